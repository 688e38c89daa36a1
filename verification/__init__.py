"""verification package of SealTrust."""
