"""A compositional grammar of Korean in-car voice commands for the demo corpus.

Sentences mimic the 2022 Korean AI competition seed ("이동 경로 갓길로 설정.", "조수석 문 다시 한번
열어 줘."): a few thousand distinct sentences built from a small shared word list, so a split grouped
by sentence text leaves validation sentences unseen in training while their words are seen.
Numbers are spelt in Hangul (이십이 도), never digits, and punctuation is only '.' and '?', so every
character is in the competition's syllable vocabulary.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass

Slot = tuple[str, ...]

_DIGITS = ("영", "일", "이", "삼", "사", "오", "육", "칠", "팔", "구")
_UNITS = ("", "십", "백", "천")


def sino_number(n: int) -> str:
    """Spell 0 <= n < 10000 in Sino-Korean words (22 -> 이십이), as a speaker reads a display."""
    if not 0 <= n < 10_000:
        raise ValueError(f"sino_number supports 0..9999, got {n}")
    if n == 0:
        return _DIGITS[0]
    words = []
    for power in range(3, -1, -1):
        digit = n // 10**power % 10
        if digit:
            words.append(("" if digit == 1 and power else _DIGITS[digit]) + _UNITS[power])
    return "".join(words)


def decimal_number(tenths: int) -> str:
    """Spell a one-decimal number given in tenths (225 -> 이십이 점 오); whole numbers get no 점."""
    whole, tenth = divmod(tenths, 10)
    return sino_number(whole) + (f" 점 {_DIGITS[tenth]}" if tenth else "")


def with_ro(word: str) -> str:
    """Attach the particle (으)로: 로 after a vowel or ㄹ, 으로 after any other final consonant."""
    final = (ord(word[-1]) - 0xAC00) % 28
    return word + ("로" if final in (0, 8) else "으로")


@dataclass(frozen=True)
class Template:
    """A sentence pattern: one word group from each slot, joined by spaces; '' skips a slot."""

    slots: tuple[Slot, ...]
    end: str = "."

    @property
    def size(self) -> int:
        """Number of slot combinations (an upper bound on its distinct sentences)."""
        return math.prod(len(slot) for slot in self.slots)

    def render(self, parts: tuple[str, ...]) -> str:
        """Join the chosen words, dropping skipped slots, and add the final punctuation."""
        return " ".join(part for part in parts if part) + self.end

    def sentences(self) -> Iterator[str]:
        """Every sentence of the template, for counting and vocabulary checks."""
        return (self.render(parts) for parts in itertools.product(*self.slots))

    def sample(self, rng: random.Random) -> str:
        """One sentence with each slot chosen uniformly."""
        return self.render(tuple(rng.choice(slot) for slot in self.slots))


# Word lists shared by several templates, so that words recur across sentences.
SEATS: Slot = ("운전석", "조수석", "뒷좌석", "뒷좌석 왼쪽", "뒷좌석 오른쪽")
OPENINGS: Slot = (
    *(f"{seat} {part}" for seat in SEATS for part in ("창문", "문")),
    "모든 창문", "트렁크", "선루프", "주유구", "햇빛 가리개",
)
OPEN_ADVERBS: Slot = ("", "다시 한번", "지금", "조금만", "끝까지", "천천히", "살짝")
OPEN_ACTIONS: Slot = ("열어 줘", "닫아 줘", "열어 주세요", "닫아 주세요", "열어", "닫아")
SEAT_FEATURES: Slot = ("열선", "통풍 시트", "마사지")
DEVICES: Slot = (
    "에어컨", "히터", "라디오", "내비게이션", "실내등", "무드등", "와이퍼", "비상등", "전조등",
    "안개등", "블루투스", "공기 청정기", "뒷유리 열선", "앞유리 김 서림 방지", "음성 안내",
    "차선 유지 보조", "크루즈 컨트롤", "외기 순환", "내기 순환", "핸들 열선",
)
SWITCH_ADVERBS: Slot = ("", "다시 한번", "지금", "잠깐", "바로")
SWITCH_ACTIONS: Slot = ("켜 줘", "꺼 줘", "켜 주세요", "꺼 주세요", "켜", "꺼")
SET_ACTIONS: Slot = ("설정", "설정해 줘", "맞춰 줘", "바꿔 줘")
UP_DOWN: Slot = ("올려 줘", "내려 줘", "높여 줘", "낮춰 줘")
TEMPERATURE_ZONES: Slot = ("", "운전석", "조수석", "뒷좌석", "실내", "에어컨", "히터")
TEMPERATURES: Slot = tuple(f"{decimal_number(t)} 도로" for t in range(160, 305, 5))
LEVELS: Slot = tuple(f"{sino_number(n)} 단계로" for n in range(1, 9))
VOLUME_SOURCES: Slot = ("", "라디오", "음악", "내비게이션", "음성 안내", "전화")
VOLUMES: Slot = tuple(with_ro(sino_number(n)) for n in range(31))
FM_FREQUENCIES: Slot = tuple(decimal_number(t) for t in range(881, 1080, 2))
DESTINATIONS: Slot = (
    "집", "회사", "학교", "공항", "서울역", "부산역", "강남역", "시청", "병원", "약국", "은행",
    "우체국", "어린이집", "백화점", "호텔", "해운대", "세차장", "정비소", "가까운 주유소",
    "가까운 충전소", "가까운 휴게소", "가까운 주차장", "가까운 편의점", "가까운 졸음 쉼터",
    "근처 카페", "근처 식당", "근처 마트",
)
ROUTES: Slot = ("갓길", "최단 거리", "고속도로", "국도", "무료 도로", "추천 경로", "최소 시간", "큰길")
CONTACTS: Slot = ("엄마", "아빠", "형", "누나", "동생", "아내", "남편", "팀장님", "과장님")
MESSAGES: Slot = ("곧 도착한다고", "조금 늦는다고", "지금 출발했다고", "길이 막힌다고")
DRIVE_MODES: Slot = ("에코", "스포츠", "컴포트", "일반", "눈길")
MEDIA_ACTIONS: Slot = (
    "다음 곡 재생해 줘", "이전 곡 재생해 줘", "음악 정지", "음악 일시 정지", "음소거 해제",
    "뉴스 틀어 줘", "교통 정보 알려 줘", "주행 가능 거리 알려 줘", "화면 밝기 낮춰 줘",
    "화면 밝게 해 줘", "사이드미러 접어 줘", "사이드미러 펴 줘",
)

TEMPLATES: tuple[Template, ...] = (
    Template((OPENINGS, OPEN_ADVERBS, OPEN_ACTIONS)),
    Template((SEATS, SEAT_FEATURES, SWITCH_ADVERBS, SWITCH_ACTIONS)),
    Template((SEATS, SEAT_FEATURES, LEVELS, SET_ACTIONS)),
    Template((DEVICES, SWITCH_ADVERBS, SWITCH_ACTIONS)),
    Template((TEMPERATURE_ZONES, ("온도",), TEMPERATURES, SET_ACTIONS)),
    Template((TEMPERATURE_ZONES, ("온도",), ("", "조금만", "일 도", "이 도", "삼 도"), UP_DOWN)),
    Template((("", "에어컨", "히터"), ("풍량",), LEVELS, SET_ACTIONS)),
    Template((VOLUME_SOURCES, ("볼륨",), VOLUMES, SET_ACTIONS)),
    Template((VOLUME_SOURCES, ("볼륨",), ("", "조금만", "많이"), UP_DOWN)),
    Template((("라디오", "에프엠"), FM_FREQUENCIES, ("메가헤르츠",), ("틀어 줘", "켜 줘", "맞춰 줘"))),
    Template((tuple(with_ro(d) for d in DESTINATIONS), ("안내해 줘", "길 안내해 줘", "가 줘", "안내 시작"))),
    Template((("목적지", "경유지"), tuple(with_ro(d) for d in DESTINATIONS), SET_ACTIONS)),
    Template((("이동 경로",), tuple(with_ro(r) for r in ROUTES), SET_ACTIONS)),
    Template((("주행 모드",), tuple(with_ro(m) for m in DRIVE_MODES), SET_ACTIONS)),
    Template((tuple(f"{d}까지" for d in DESTINATIONS), ("얼마나 걸려", "몇 분 남았어", "거리가 얼마나 돼")), "?"),
    Template((("남은 연료로", "배터리로"), tuple(f"{d}까지" for d in DESTINATIONS), ("갈 수 있어",)), "?"),
    Template((("지금",), OPENINGS, ("열려 있어", "닫혀 있어")), "?"),
    Template((("지금",), DEVICES, ("켜져 있어", "꺼져 있어")), "?"),
    Template((tuple(f"{c}에게" for c in CONTACTS), ("", "다시 한번"), ("전화 걸어 줘", "전화해 줘"))),
    Template((tuple(f"{c}에게" for c in CONTACTS), MESSAGES, ("문자 보내 줘", "메시지 보내 줘"))),
    Template((("", "지금"), MEDIA_ACTIONS)),
)

# Big templates would otherwise crowd out small ones; sqrt keeps every intent in a small corpus.
_WEIGHTS = tuple(math.sqrt(t.size) for t in TEMPLATES)


def all_sentences() -> set[str]:
    """Every distinct sentence the grammar can make."""
    return {sentence for template in TEMPLATES for sentence in template.sentences()}


def sample_sentence(rng: random.Random) -> str:
    """One sentence: a template weighted by sqrt(size), then each slot uniformly."""
    template = rng.choices(TEMPLATES, weights=_WEIGHTS)[0]
    return template.sample(rng)
