"""Ways a disk or an operator damages a live index, shared by the index, CLI and end-to-end tests."""

from __future__ import annotations

from pathlib import Path

from bantin.index.layout import current_generation

#: garbage TOC, truncated TOC, truncated segment, deleted segment
KINDS = ("toc-garbage", "toc-truncated", "segment-truncated", "segment-deleted")


def damage(index_root: Path, kind: str) -> None:
    """Damage the live generation under `index_root` the way `kind` says."""
    generation = current_generation(index_root)
    assert generation is not None, "no live index to damage"
    tocs = sorted(generation.glob("*.toc"))
    segments = sorted(generation.glob("*.seg"))
    assert tocs and segments
    if kind == "toc-garbage":
        size = tocs[-1].stat().st_size
        tocs[-1].write_bytes((b"\x07not a table of contents " * (size // 20 + 1))[:size])
    elif kind == "toc-truncated":
        with open(tocs[-1], "r+b") as handle:
            handle.truncate(100)
    elif kind == "segment-truncated":
        with open(segments[0], "r+b") as handle:
            handle.truncate(segments[0].stat().st_size // 2)
    elif kind == "segment-deleted":
        segments[0].unlink()
    else:
        raise ValueError(kind)
