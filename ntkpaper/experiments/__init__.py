"""One module per notebook, named after it (``nb02_mup_feature_learning`` for
``notebooks/02_mup_feature_learning.py``): ``compute_*`` functions returning tidy DataFrames,
``plot_*`` functions returning figures, and ``CLAIMS``, the notebook's claims and checks with
their sources and criteria (:mod:`ntkpaper.claims`). A driver changes with its notebook; the
methods it calls (the modules at the top of the package) change with the papers.
"""
