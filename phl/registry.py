"""The vocabulary of phl, declared once: training regimes, probe modes and kinds, run names,
structure categories and the groups results are reported in, with their labels and colours.
Training, the workflow's rules, tables and figures all read these."""

from __future__ import annotations

from dataclasses import dataclass

from phl.errors import InputError

# ---- training -----------------------------------------------------------------------------
#: Training regimes: energies+forces, + one-hot HVPs, + random (Hutchinson) HVPs, + full Hessians.
REGIMES: tuple[str, ...] = ("ef", "hvp-onehot", "hvp-random", "efh")
REGIME_LABELS = {"ef": "E-F", "hvp-onehot": "E-F-HVP one-hot", "hvp-random": "E-F-HVP Hutchinson", "efh": "E-F-H"}
REGIME_SHORT = {"ef": "E-F", "hvp-onehot": "HVP one-hot", "hvp-random": "HVP Hutchinson", "efh": "E-F-H"}
REGIME_COLORS = {"ef": "#7f7f7f", "hvp-onehot": "#1f77b4", "hvp-random": "#d62728", "efh": "#2ca02c"}

#: How HVP regimes get their probes: re-drawn every minibatch, fixed per structure, or the
#: data set's stored reference (probe, HVP) pairs.
PROBE_MODES: tuple[str, ...] = ("randomized", "fixed", "stored")
#: Probe distributions, all with E[v vᵀ] = I.
PROBE_KINDS: tuple[str, ...] = ("gaussian", "rademacher", "onehot")
RANDOM_PROBE_KINDS: tuple[str, ...] = ("gaussian", "rademacher")


def uses_hvp(regime: str) -> bool:
    return regime.startswith("hvp")


@dataclass(frozen=True)
class Run:
    """A training run: one regime with, for HVP regimes, one probe mode (``hvp-random-fixed``)."""

    name: str
    regime: str
    probes: str | None  # None for ef and efh

    @property
    def label(self) -> str:
        base = REGIME_LABELS[self.regime]
        return base if self.probes is None else f"{base} ({self.probes})"

    @property
    def short(self) -> str:
        return REGIME_SHORT[self.regime]

    @property
    def color(self) -> str:
        return REGIME_COLORS[self.regime]


def run_name(regime: str, probes: str | None) -> str:
    return f"{regime}-{probes}" if uses_hvp(regime) else regime


def parse_run(name: str) -> Run:
    for regime in REGIMES:
        if not uses_hvp(regime) and name == regime:
            return Run(name, regime, None)
        if uses_hvp(regime) and name.startswith(regime + "-") and name[len(regime) + 1 :] in PROBE_MODES:
            return Run(name, regime, name[len(regime) + 1 :])
    raise InputError(f"not a run name: {name!r} (ef, efh or hvp-onehot|hvp-random-randomized|fixed|stored)")


def run_names(regimes: list[str], probe_modes: list[str]) -> list[str]:
    """The runs of a study: every HVP regime with every probe mode, E-F and E-F-H once."""
    for value, known, what in [(r, REGIMES, "regime") for r in regimes] + [
        (m, PROBE_MODES, "probe mode") for m in probe_modes
    ]:
        if value not in known:
            raise InputError(f"unknown {what} {value!r}; known: {', '.join(known)}")
    return [run_name(r, p) for r in regimes for p in (probe_modes if uses_hvp(r) else [None])]


# ---- structures ---------------------------------------------------------------------------
#: Geometry categories. ``rtp`` is a stationary point of unknown kind (reactant, product or TS),
#: as in imported OpenREACT RTP files.
CATEGORIES: tuple[str, ...] = ("reactant", "product", "ts", "rtp", "irc", "nms", "other")
RTP_CATEGORIES = frozenset({"reactant", "product", "ts", "rtp"})
#: Groups results are reported in (the paper's Test = RTP test split, IRC, NMS).
GROUPS: tuple[str, ...] = ("RTP", "IRC", "NMS")


def group_of(category: str) -> str:
    """Reporting group of a structure category: RTP (reactant, product, TS), IRC, NMS or other."""
    return "RTP" if category in RTP_CATEGORIES else {"irc": "IRC", "nms": "NMS"}.get(category, "other")
