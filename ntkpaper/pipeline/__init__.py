"""The run machinery, with no science in it: the command line (:mod:`.cli`), the papermill
runner (:mod:`.runner`), a notebook's session (:mod:`.session`: parameters, ledger, figures),
the profiles (:mod:`.profiles`), the results ledger (:mod:`.ledger`) and the full-profile
planner (:mod:`.plan`).

A notebook needs only ``run = pipeline.start(globals())``.
"""


def start(namespace: dict | None = None, notebook: str | None = None):
    """See :func:`ntkpaper.pipeline.session.start`."""
    from ntkpaper.pipeline import session

    return session.start(namespace, notebook)
