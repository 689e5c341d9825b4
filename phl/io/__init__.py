"""Reading and writing files: XYZ geometries (:mod:`phl.io.xyz`) and atomic writes
(:mod:`phl.io.atomic`)."""
