"""signing package of SealTrust."""
