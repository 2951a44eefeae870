# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
#     formats: ipynb,py:percent
#     notebook_metadata_filter: kernelspec,jupytext
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # NN · Title: what this notebook reproduces
#
# **Paper.** Authors Year, *Title*, venue (arXiv:XXXX.XXXXX).
#
# **The claim.** What the paper asserts, in two or three sentences, with the section, figure or
# table where it says so.
#
# **What runs here.** Data, models and protocol, and every way in which they differ from the
# paper's (and why).
#
# Copy this file to `notebooks/NN_topic.py` and follow CONTRIBUTING.md.

# %% tags=["parameters"]
PROFILE = "cpu"  # smoke | cpu | full (values below are cpu's; profiles.py holds the changes)
SEED = 0  # seed of every random draw
N_TRAIN = 256  # training images
WIDTHS = [64, 256, 1024]  # hidden widths
N_SEEDS = 2  # initialisations per width

# %%
from ntkpaper import pipeline
from ntkpaper.experiments import nbNN_topic as exp

run = pipeline.start(globals())

# %% [markdown]
# ## 1 · The first result
#
# What is computed, and what the paper predicts for it.

# %%
with run.section("first"):
    df = exp.compute_first(N_TRAIN, WIDTHS, N_SEEDS, SEED)
run.savefig(exp.plot_first(df, run.caption("MNIST")), "first_result")
run.claim(exp.CLAIMS["first_claim"], df)
df

# %%
run.finish()
