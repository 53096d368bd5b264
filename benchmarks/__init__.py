"""Side-by-side benchmarks of tabdl against LightGBM, random forests and bare torch loops."""
