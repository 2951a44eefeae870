"""ntkpaper: helpers shared by the notebooks (see DESIGN in the README).

Import submodules explicitly (``from ntkpaper import data, kernels``); importing the package
itself is cheap and does not import jax.
"""

__version__ = "0.1.0"
