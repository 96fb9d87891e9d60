"""Geography: the layers shipped in services/data/geo (layers), and the rules' geography and the
user zones built from them (geography)."""
