"""`tds up` / `tds down`: the whole platform on one machine, supervised from one terminal."""
