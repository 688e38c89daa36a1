"""hsm_adapters package of SealTrust."""
