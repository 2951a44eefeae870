"""ntkpaper: the methods of the papers, one driver per notebook, and the machinery that runs them.

Layers, and which may import which (checked by ``tests/test_import_rules.py``, which reads the
imports of every module):

* **base** (``paths``, ``_io``, ``cache``, ``claims``, ``progress``): repo-relative directories,
  atomic writes, checksums, the array cache, the claim type, progress bars. Imports only base.
* **data** (``ntkpaper.data``): loaders with pinned checksums and labelled stand-ins. Imports
  base and data.
* **plotting**: one style, one colour and label per method, the shared plot idioms. Imports base.
* **science** (``nt``, ``architectures``, ``kernels``, ``entk``, ``parametrization``,
  ``training``, ``alignment``, ``tangent_features``, ``sparsity``, ``fewshot``, ``word2vec``,
  ``stats``): the papers' methods, with no knowledge of any notebook. Imports science, data, base.
* **experiments** (``ntkpaper.experiments.nbNN_topic``): one module per notebook, named after it:
  ``compute_*`` returning tidy DataFrames, ``plot_*`` returning figures, and the notebook's
  claims. Imports science, data, plotting and base; never another notebook's module.
* **pipeline** (``ntkpaper.pipeline``): command line, runner, session, profiles, ledger,
  planner. Imports pipeline, base, data and plotting; never science or experiments.

Only ``nt.py`` imports neural_tangents, and no ``_private`` name is used outside its module.
Import submodules explicitly (``from ntkpaper import kernels``); importing the package itself is
cheap and does not import jax.
"""

__version__ = "0.1.0"

LAYERS = {
    "base": ["paths", "_io", "cache", "claims", "progress"],
    "data": ["data"],
    "plotting": ["plotting"],
    "science": ["nt", "architectures", "kernels", "entk", "parametrization", "training",
                "signal_propagation",
                "alignment", "tangent_features", "sparsity", "ntt", "fewshot", "word2vec", "cbow",
                "stats"],
    "experiments": ["experiments"],
    "pipeline": ["pipeline", "__main__"],
}
ALLOWED = {
    "base": {"base"},
    "data": {"base", "data"},
    "plotting": {"base", "plotting"},
    "science": {"science", "data", "base"},
    "experiments": {"science", "data", "plotting", "base"},
    "pipeline": {"pipeline", "base", "data", "plotting"},
}
