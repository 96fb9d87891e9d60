"""The geography: the layers shipped in services/data/geo (layers) and the rules' geography and user zones built from them (geography)."""
