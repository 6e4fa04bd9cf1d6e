"""Shipped weights (``<name>.safetensors``), their model cards (``<name>.md``) and the
registration: ``shipped.json`` (data) and ``shipped.py`` (generated from it, imported by
:mod:`models.registry`). Written by ``bench/ship_model.py`` (:mod:`models.shipping`) only.
"""
