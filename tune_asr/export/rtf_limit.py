"""How fast an exported model must infer: a limit on its real-time factor (RTF), and the one rule of what fits it.

NSML ends a submit session that has not transcribed the hidden test set within its time limit, so
``export-best`` can choose among the trials that keep a limit: one given as an RTF (``--max-rtf``), or
worked out from the time limit and the test set's hours with a safety margin (:data:`MARGIN_WHY` says
why a margin). The package's replay then checks the RTF it measured itself against the same limit.
"""

from __future__ import annotations

from dataclasses import dataclass

from tune_asr.best_checkpoint import EpochReport, finite
from tune_asr.inference_cost import SAMPLE_UTTERANCES

RTF_KEY = "rtf"  # what a trial reports: seconds of compute per second of audio (tune_asr.inference_cost)
DEFAULT_MARGIN = 0.5
MARGIN_WHY = (f"A trial measured its RTF on its own device (perhaps a shared GPU, or a CPU) and on {SAMPLE_UTTERANCES} validation "
              "utterances, while NSML infers on the submit session's GPU over the whole test set, with per-file "
              "reading and the process start-up on top: hence the margin.")


def reported_rtf(report: EpochReport) -> float | None:
    """The RTF a trial reported with ``report``; None for a search from before it was measured."""
    return finite(report, RTF_KEY)


@dataclass(frozen=True)
class RtfLimit:
    """The highest RTF a trial may have reported to be exported; with the time budget it came from, if any."""

    max_rtf: float
    time_limit_s: float | None = None  # NSML's inference time limit, when the limit was worked out from it
    test_hours: float | None = None  # the hidden test set's audio, in hours
    margin: float | None = None

    @classmethod
    def from_time_budget(cls, time_limit_s: float, test_hours: float, margin: float = DEFAULT_MARGIN) -> RtfLimit:
        """The RTF that transcribes ``test_hours`` of audio in ``time_limit_s`` seconds, times ``margin``."""
        return cls(time_limit_s / (test_hours * 3600) * margin, time_limit_s, test_hours, margin)

    def fits(self, rtf: float | None) -> bool:
        """Whether a model measured at ``rtf`` keeps the limit; an unknown RTF cannot be shown to."""
        return rtf is not None and rtf <= self.max_rtf

    def __str__(self) -> str:
        if self.time_limit_s is None:
            return f"the limit --max-rtf {self.max_rtf:g}"
        return f"the limit rtf {self.max_rtf:.4g} = {self.time_limit_s:g} s per {self.test_hours:g} h of test audio × margin {self.margin:g}"

    def replay_verdict(self, rtf: float) -> str:
        """One line on the RTF the replay measured: within the limit, or a ``warning:``. With a time budget the
        replay's RTF is held to the time limit itself, without the margin: the replay timed the package's own
        infer over a whole test folder (on this machine's device, though, not NSML's)."""
        if self.time_limit_s is None:
            measured, limit, over = f"replay RTF {rtf:.4g}", f"--max-rtf {self.max_rtf:g}", rtf > self.max_rtf
        else:
            projected = rtf * self.test_hours * 3600
            measured = f"replay RTF {rtf:.4g}: {self.test_hours:g} h of test audio in {projected:,.0f} s"
            limit, over = f"the time limit {self.time_limit_s:g} s", projected > self.time_limit_s
        return f"warning: {measured}, over {limit}" if over else f"{measured}, within {limit}"
