"""The sampling design of the geometry stage: which reactions get which structures.

The paper labels reactant, product and TS (RTP) of every reaction (35,087 structures of 11,961
reactions), IRC points of 600 of them (34,248 structures, ~57 per path) and normal-mode samples
around intermediate IRC points of 574 of those (62,527 structures, ~109 per reaction). Here:

* every reaction: reactant, product, TS;
* the IRC subset (``irc_reactions``, a seeded choice): also the IRC, ``irc_points`` kept;
* the NMS subset (``nms_reactions``, the first of the IRC subset in the same seeded order):
  also ``nms_points`` × ``nms_samples`` normal-mode samples.

The subsets rank reactions by a hash of (``subset_seed``, id), so a reaction's role does not
depend on the order of the list or on which other reactions it holds, and growing the subset
keeps the reactions already chosen. :func:`predict_counts` gives the expected structure counts
of a design before anything runs (``phl reaction plan``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import ClassVar

from phl.errors import InputError
from phl.settings import Settings, setting

#: Steps of a reaction by its role in the design.
RTP_STEPS = ("reactant", "product", "ts")
IRC_STEPS = (*RTP_STEPS, "irc")
NMS_STEPS = (*IRC_STEPS, "nms")

#: The paper's counts (Rodriguez et al. 2026): structures per group and the reactions behind them.
PAPER_COUNTS = {"RTP": 35_087, "IRC": 34_248, "NMS": 62_527}
PAPER_REACTIONS = {"RTP": 11_961, "IRC": 600, "NMS": 574}


@dataclass(frozen=True)
class SamplingDesign(Settings):
    """Which reactions are followed along their IRC and normal-mode sampled (workflow config
    ``geometries.sampling``)."""

    what: ClassVar[str] = "sampling"

    irc_reactions: int | None = setting(
        None, "reactions whose IRC is followed and sampled, a seeded subset (null: all)"
    )
    nms_reactions: int | None = setting(
        None, "reactions of the IRC subset whose IRC points are normal-mode sampled (null: all of the IRC subset)"
    )
    subset_seed: int = setting(0, "seed of the IRC and NMS subsets")
    expected_failure_rate: float = setting(
        0.022,
        "fraction of reactions expected to fail (SCF, TS, IRC), used only to predict counts; the paper's "
        "35,087 RTP structures of 11,961 reactions imply 2.2 %",
    )

    def __post_init__(self) -> None:
        for name in ("irc_reactions", "nms_reactions"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise InputError(f"sampling option {name} must be >= 0 (or null for all), got {value}")
        if (
            self.irc_reactions is not None
            and self.nms_reactions is not None
            and self.nms_reactions > self.irc_reactions
        ):
            raise InputError(
                f"sampling option nms_reactions ({self.nms_reactions}) cannot exceed irc_reactions "
                f"({self.irc_reactions}): normal-mode samples are drawn around IRC points"
            )
        if not 0 <= self.expected_failure_rate < 1:
            raise InputError(
                f"sampling option expected_failure_rate must be in [0, 1), got {self.expected_failure_rate}"
            )

    def ranked(self, ids: list[str]) -> list[str]:
        """The ids in the seeded subset order."""
        return sorted(ids, key=lambda rid: hashlib.sha256(f"{self.subset_seed}:{rid}".encode()).hexdigest())

    def subsets(self, ids: list[str]) -> tuple[set[str], set[str]]:
        """(IRC subset, NMS subset) of a reaction list."""
        for name in ("irc_reactions", "nms_reactions"):
            value = getattr(self, name)
            if value is not None and value > len(ids):
                raise InputError(
                    f"sampling option {name} is {value} but the reaction list has {len(ids)} reactions; set it to "
                    f"at most {len(ids)}, or null for all"
                )
        order = self.ranked(ids)
        n_irc = len(order) if self.irc_reactions is None else self.irc_reactions
        n_nms = n_irc if self.nms_reactions is None else min(self.nms_reactions, n_irc)
        return set(order[:n_irc]), set(order[:n_nms])

    def steps(self, ids: list[str]) -> dict[str, tuple[str, ...]]:
        """The geometry steps of every reaction of the list."""
        irc, nms = self.subsets(ids)
        return {rid: NMS_STEPS if rid in nms else IRC_STEPS if rid in irc else RTP_STEPS for rid in ids}


def irc_structures(settings) -> int:
    """IRC structures kept per path: ``irc_points``, at most the interior points a path of
    ``irc_steps`` each way can have (TS and both ends excluded)."""
    return min(settings.irc_points, max(2 * settings.irc_steps - 2, 0))


def nms_structures(settings) -> int:
    return min(settings.nms_points, irc_structures(settings) + 2) * settings.nms_samples


def predict_counts(ids: list[str], design: SamplingDesign, settings) -> dict[str, dict[str, float]]:
    """Reactions and structures per group (RTP, IRC, NMS) a design makes of a reaction list:
    ``nominal`` if every reaction succeeds, ``expected`` with the design's failure rate."""
    irc, nms = design.subsets(ids)
    per = {"RTP": 3, "IRC": irc_structures(settings), "NMS": nms_structures(settings)}
    reactions = {"RTP": len(ids), "IRC": len(irc), "NMS": len(nms)}
    keep = 1.0 - design.expected_failure_rate
    return {
        group: {
            "reactions": reactions[group],
            "per_reaction": per[group],
            "nominal": reactions[group] * per[group],
            "expected": round(reactions[group] * per[group] * keep),
        }
        for group in per
    }


def prediction_report(counts: dict[str, dict[str, float]], design: SamplingDesign, compare_paper: bool = True) -> str:
    """The table ``phl reaction plan`` prints (with the paper's counts beside, and the deviation)."""
    lines = [f"{'group':<6} {'reactions':>9} {'per reaction':>12} {'nominal':>9} {'expected':>9}"]
    if compare_paper:
        lines[0] += f" {'paper':>9} {'deviation':>9}"
    for group, c in counts.items():
        line = f"{group:<6} {c['reactions']:>9,} {c['per_reaction']:>12} {c['nominal']:>9,} {c['expected']:>9,}"
        if compare_paper:
            dev = (c["expected"] - PAPER_COUNTS[group]) / PAPER_COUNTS[group]
            line += f" {PAPER_COUNTS[group]:>9,} {dev:>+9.1%}"
        lines.append(line)
    total = sum(c["expected"] for c in counts.values())
    lines.append(f"expected labels: {total:,} (failure rate {design.expected_failure_rate:.1%})")
    return "\n".join(lines)
