"""pytest plugin (``-p only_c`` with fuzz/ on PYTHONPATH): keep only the
compiled-twin side of impl-parametrised tests (for runs under valgrind)."""


def pytest_collection_modifyitems(config, items):
    keep, drop = [], []
    for item in items:
        cs = getattr(item, "callspec", None)
        (drop if cs is not None and cs.params.get("impl") == "py" else keep).append(item)
    config.hook.pytest_deselected(items=drop)
    items[:] = keep
