"""The booking bench's CPU per attempt divides the CPU spent while its attempts were counted:
a closed loop's warm-up is neither counted as attempts nor as CPU."""

from __future__ import annotations

import asyncio

from bench.booking import _cpu_after_warmup


async def test_cpu_is_counted_from_the_end_of_the_warm_up() -> None:
    loop = asyncio.get_running_loop()
    spent: dict[str, float] = {"booking": 1.0}  # slices add up
    with _cpu_after_warmup(spent, lambda: {"booking": loop.time()}, 0.2):
        await asyncio.sleep(0.6)
    # 0.4 s after the warm-up (not the block's 0.6 s), on top of what was there.
    assert 1.3 <= spent["booking"] <= 1.5


async def test_a_block_within_its_warm_up_adds_nothing() -> None:
    loop = asyncio.get_running_loop()
    spent: dict[str, float] = {}
    with _cpu_after_warmup(spent, lambda: {"booking": loop.time()}, 5.0):
        await asyncio.sleep(0.05)
    assert spent == {}
