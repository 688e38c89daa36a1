"""HTTP service and command line of SealTrust."""
