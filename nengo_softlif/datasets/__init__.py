"""Small data sets shipped with nengo_softlif (package data)."""
