"""``python -m hygie_patient_index.train [--sample N]``: estimate the match model by EM
from the index's records and store it (the service loads it at its next start)."""

from __future__ import annotations

import argparse
import asyncio
import json

from hygie_platform.config import load_settings
from hygie_platform.service import ServiceRuntime

from .bootstrap import SPEC
from .service.context import IndexContext
from .service.training import train_model


async def _main(sample: int) -> None:
    runtime = ServiceRuntime(SPEC, load_settings())
    app = await runtime.prepare()
    try:
        ctx: IndexContext = app.state.patient_index
        async with app.state.uow() as uow:
            trained = await train_model(uow, ctx, sample=sample)
        print(
            json.dumps(
                {
                    "pairs": trained.pairs,
                    "iterations": trained.iterations,
                    "match_share": trained.match_share,
                    "levels": trained.levels,
                },
                indent=2,
            )
        )
    finally:
        await runtime.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sample", type=int, default=2000)
    asyncio.run(_main(parser.parse_args().sample))
