"""Turn a finished `gre train` run into a shipped, registered model with a model card.

:mod:`~models.shipping.ship` orchestrates; :mod:`~models.shipping.run_info` reads the run,
:mod:`~models.shipping.eval_sets` and :mod:`~models.shipping.heldout` score the weights,
:mod:`~models.shipping.card` writes the card and :mod:`~models.shipping.manifest` the registration
(:func:`ship_chain` registers registered models run one after another as one model, :func:`ship_router` a
router file that sends each input to the specialist models it needs)
(``models/weights/shipped.json`` and the generated ``shipped.py``). The command line is
``bench/ship_model.py``.
"""
from models.shipping.ship import (DEFAULT_EVAL_ROOT, ChainShipRequest, RouterShipRequest, ShipError, ShipRequest,
                                  ShipResult, ship_chain, ship_model, ship_router)

__all__ = ["DEFAULT_EVAL_ROOT", "ChainShipRequest", "RouterShipRequest", "ShipError", "ShipRequest", "ShipResult",
           "ship_chain", "ship_model", "ship_router"]
