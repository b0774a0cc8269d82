"""The closed vocabularies of understanding: the details a tool needs, read by rules.

Where the vocabulary is closed and exact, rules read it: emotions ("for sadness" -> ``sad``, "rather
than surprise"), CAM methods ("with grad-cam++"), faces by number, ordinal, position or emotion ("face
2", "number 2", "the second person", "the one top left", "the smiling one"), a person described by
appearance ("the guy in sunglasses", which no offline model can resolve), photos ("the first photo",
"both pictures", "the other one", file names rewritten to ids), the answer's shape (yes/no, one word,
a ranking, one paragraph) and the words that mark a follow-up ("instead", "again", "what about ...").

``parse`` reads a message into a ``Request`` with these slots and, by the same patterns, a first guess
at what is asked; ``agent.understanding.understand`` replaces that guess with the learned classifiers'
reading (``nlu``), for which these patterns are also features. Nothing here knows the conversation:
``agent.discourse`` resolves the references against what happened before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tools.errors import InvalidRequestError
from tools.labels import BASIC7, RAFCE_COMPOUND14, normalize_label

__all__ = [
    "Request",
    "parse",
    "CLASSIFY",
    "EXPLAIN",
    "ASK",
    "DESCRIBE",
    "LOCATE",
    "INTENTS",
    "POSITIONS",
    "WHO_RE",
    "extract_method",
]

CLASSIFY, EXPLAIN, ASK, DESCRIBE, LOCATE = "classify", "explain", "ask", "describe", "locate"
INTENTS = (CLASSIFY, EXPLAIN, ASK, DESCRIBE, LOCATE)
POSITIONS = ("left", "right", "middle", "top", "bottom", "largest", "smallest")

DEFAULT_LABELS: tuple[str, ...] = BASIC7 + RAFCE_COMPOUND14


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE | re.VERBOSE)


# --- vocabularies --------------------------------------------------------------------------------

# Word -> basic emotion. Broader than tools.labels' aliases: this reads chat, not label files.
EMOTION_WORDS: dict[str, str] = {
    **{
        w: "happy"
        for w in "happy happiness joy joyful joyous glad cheerful delighted pleased content "
        "happier happiest cheery elated".split()
    },
    **{
        w: "sad"
        for w in "sad sadness unhappy sorrow sorrowful upset depressed gloomy melancholy miserable "
        "sadder saddest grief grieving heartbroken".split()
    },
    **{
        w: "angry"
        for w in "angry anger mad furious annoyed irritated rage enraged cross angrier angriest "
        "irate hostile".split()
    },
    **{
        w: "fear"
        for w in "fear fearful afraid scared frightened terrified anxious nervous worried fright "
        "scarier".split()
    },
    **{
        w: "surprise"
        for w in "surprise surprised astonished shocked amazed astonishment startled stunned shock".split()
    },
    **{w: "disgust" for w in "disgust disgusted grossed revulsion repulsed revolted grossed-out".split()},
    **{w: "happy" for w in "fun enjoying enjoy enjoys".split()},
    **{
        w: "neutral"
        for w in "neutral calm expressionless blank indifferent impassive calmer composed".split()
    },
    "contempt": "contempt",
}
_EMOTION_WORD_RE = re.compile(
    r"\b(?:(?P<adverb>happily|sadly|fearfully|angrily|disgustedly|surprisedly)[\s_-]+(?P<adj>[a-z]+)|(?P<word>"
    + "|".join(sorted(map(re.escape, EMOTION_WORDS), key=len, reverse=True))
    + r"))\b",
    re.IGNORECASE,
)
EMOTION_WORD_RE = _EMOTION_WORD_RE
_VERSUS_BEFORE = _rx(
    r"(?:rather\s+than|instead\s+of|versus|vs\.?|compared\s+(?:to|with)|over|and\s+not|but\s+not|not)\s+(?:as\s+|being\s+|a\s+|an\s+)?$"
)

METHOD_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("gradcam++", _rx(r"grad[\s-]*cam\s*(?:\+\+|\s*plus\s*plus|pp\b)")),
    ("eigengradcam", _rx(r"eigen[\s-]*grad[\s-]*cam")),
    ("xgradcam", _rx(r"\bx[\s-]*grad[\s-]*cam")),
    ("hirescam", _rx(r"\bhi[\s-]*res(?:olution)?[\s-]*cam")),
    ("layercam", _rx(r"\blayer[\s-]*cam")),
    ("eigencam", _rx(r"\beigen[\s-]*cam")),
    ("scorecam", _rx(r"\bscore[\s-]*cam")),
    ("ablationcam", _rx(r"\bablation(?:[\s-]*cam)?\b")),
    ("fullgrad", _rx(r"\bfull[\s-]*grad")),
    ("kpcacam", _rx(r"\bkpca(?:[\s-]*cam)?\b")),
    ("shapleycam", _rx(r"\bshapley(?:[\s-]*cam)?\b")),
    ("gradcamelementwise", _rx(r"element[\s-]*wise")),
    ("gradcam", _rx(r"\bgrad[\s-]*cam\b|\bvanilla\s+cam\b")),
)

_ORDINALS = {
    "first": 1, "1st": 1, "one": 1, "second": 2, "2nd": 2, "two": 2, "third": 3, "3rd": 3, "three": 3,
    "fourth": 4, "4th": 4, "four": 4, "fifth": 5, "5th": 5, "five": 5,
}  # fmt: skip
_PERSON = (
    r"(?:face|person|man|woman|guy|girl|lady|boy|kid|child|individual|subject|participant|respondent|people)"
)
_PHOTO = r"(?:photo|photograph|image|picture|pic|upload|shot|snapshot|img)"
_ORD = r"(?:first|second|third|fourth|fifth|1st|2nd|3rd|4th|5th)"

# --- intent patterns -----------------------------------------------------------------------------

REFUSE_RE = _rx(r"""
    \b(?:read|open|show|cat|print|list|display|load|delete|remove|write|edit|modify|access)\s+(?:me\s+)?
        (?:the\s+|this\s+|that\s+|a\s+|an\s+|my\s+|your\s+|some\s+|all\s+)?(?:local\s+|system\s+|source\s+)?
        (?:files?|folders?|director(?:y|ies)|disk|drive|source(?:\s+code)?|config(?:uration)?|\.env|passwords?|passwd|secrets?|
           environment\s+variables?|logs?|database)\b
    | /etc/ | ~/ | \b[a-z]:\\ | \b[\w-]+\.(?:py|txt|csv|json|ya?ml|env|sh|cfg|ini|log|pdf|docx?|xlsx?|toml|sql)\b
    | \b(?:run|execute|eval(?:uate)?|exec)\s+(?:this\s+|the\s+|some\s+|my\s+|a\s+|an?\s+)?(?:python\s+|shell\s+|bash\s+)?
        (?:code|commands?|scripts?|programs?|shell|python|bash|sql|query|snippets?)\b
    | \b(?:shell\s+command|terminal|bash|powershell|subprocess|os\.system|import\s+os|rm\s+-rf|sudo)\b
    | \b(?:browse|google)\b | \bsearch\s+(?:the\s+)?(?:web|internet|online|google)\b | \bsearch\s+for\b | \bwebsites?\b
    | https?:// | \bwww\. | \blook\s+(?:it|this|her|him|them)?\s*up\s+online\b | \bon\s+the\s+(?:web|internet)\b
    | \b(?:send|write)\s+(?:an?\s+)?(?:email|e-mail|tweet|text\s+message)\b | \bdownload\b(?=.*\b(?:from|youtube|internet|web|online|url|link|site)\b) | \bhack | \bapi[\s_-]?keys?\b
    | \bcredentials?\b | \bweather\b | \bstock\s+prices?\b | \bdesktop\b
    | \b(?:get|fetch|grab|pull|read|open|load|access|copy|import|scan|find|look\s+(?:at|through)|go\s+through)\b
        [^.?!]{0,40}\bfrom\s+my\s+(?:computer|disk|drive|downloads|documents|laptop|phone)\b
    | \b(?:open|read|load|fetch)\b[^.?!]*?\b[\w-]+\.(?:png|jpe?g|gif|webp|bmp|tiff?|heic)\b
    | \bwrite\s+(?:me\s+)?(?:a\s+|an\s+)?(?:poem|essay|story|song|program|script|function|code)\b
    | \bwho\s+is\s+(?:this|she|he|that|it)\b | \bidentify\s+(?:her|him|them|this\s+person|the\s+person|who)\b
    | \bwhat(?:'s|\s+is)\s+(?:her|his|their)\s+name\b | \brecogni[sz]e\s+(?:her|him|them|this\s+person|who)\b
    | \bwhere\s+(?:does|do|did)\s+(?:she|he|they)\s+live\b
""")

EXPLAIN_RE = _rx(r"""
    \bwhy\b | \bexplain | \bexplanation | \breason | \bheat[\s-]*maps?\b | \bsaliency | \b(?:attention|activation|class[\s-]+activation)\s+maps?\b
    | \b(?:grad|score|eigen|layer|hires|xgrad|ablation|eigengrad)[\s-]*cam | \bcam\b | \bfull[\s-]*grad
    | \bwhat\s+made\s+(?:you|it|the\s+(?:model|classifier|network|ai)) | \bmade\s+(?:you|it)\s+(?:say|think|predict|decide|choose|pick|conclude)
    | \bwhich\s+(?:part|parts|region|regions|area|areas|features?|pixels|bits)\s+(?:of\s+(?:the\s+|her\s+|his\s+)?face\s+)?
        (?:mattered|matter|count|counted|drove|led|made|influenced|contributed|were\s+used|was\s+used|did\s+(?:it|you|the\s+model)|does)
    | \bwhere\s+(?:did|does|do|is|was)\s+(?:you|it|the\s+(?:model|classifier|network))\s+(?:look|looking|focus|focusing|attend)
    | \b(?:model|classifier|network|it|you)\s+(?:look(?:ed)?|focus(?:ed)?)\s+(?:at|on)\b
    | \bevidence\b | \bjustif | \bhow\s+(?:did|do|does|can|could)\s+(?:you|it|the\s+(?:model|classifier|computer|machine|ai|app|program|system))\s+(?:tell|know|decide|conclude|figure|arrive|get|determine)
    | \bwhere\s+(?:the\s+)?(?:model|classifier|network|it|ai|computer)\s+(?:was|is|were)\s+(?:looking|focus(?:s)?ing)
    | \bwhat\s+led\b | \bbased\s+on\s+what\b | \bon\s+what\s+basis\b | \bwhat\s+gave\s+(?:it|that|her|him)\s+away\b | \bhighlight
    | \bwhat\s+drove\b | \binterpret | \bvisuali[sz]e | \bshow\s+(?:me\s+)?(?:the\s+|a\s+|your\s+)?(?:map|regions|hot\s*spots?)\b | \bhot\s*spots?\b
    | \bwhat\s+(?:features|cues|clues)\b | \bwhat\s+tells\s+you\b | \bwhat\s+(?:is|was)\s+(?:that|this|it)\s+based\s+on\b
    | \b(?:get|gets|got|any|much|no|some)\s+(?:of\s+the\s+)?heat\b | \bheat\s+(?:on|in|over|around)\b
    | \bwhat\s+tipped\b | \btipped\s+(?:it|the\s+(?:model|scales|balance))\b
""")

DESCRIBE_RE = _rx(r"""
    \bdescri(?:be|ption|bing)\b | \bwhat\s+does\s+(?:her|his|their|the|this|that)\s+(?:face|person)\s+look\s+like\b
    | \b(?:tell\s+me\s+about|walk\s+me\s+through|run\s+me\s+through)\s+(?:her|his|their|the)\s+(?:facial\s+)?features\b
    | \bfacial\s+features\b | \bwhat\s+is\s+(?:her|his|their|the)\s+face\s+doing\b | \bdetails?\s+of\s+(?:her|his|the)\s+face\b
    | \btell\s+me\s+(?:all\s+|everything\s+)?about\s+(?:this|the|her|his|their|that)\s+faces?\b
""")

FEATURE_RE = _rx(r"""
    \bmouth | \blips?\b | \bteeths?\b | \btooth\b | \bsmirk\w* | \bkiss(?:y|ing)?\s+(?:face|lips)\b | \bduck\s*face\b | \bpout\w* | \btongue\b | \bsmil(?:e|es|ed|ing)\b | \bgrin(?:s|ning)?\b | \beyes?\b | \beyelids?\b
    | \bblink | \bwink | \bsquint | \b(?:eye)?brows?\b | \bfrown | \bforehead\b | \bjaw\b | \bchin\b | \bhead\b
    | \btilt(?:ed|ing|s)?\b | \bnod | \bgaze | \blooking\s+(?:at|away|up|down|left|right|to|towards?|sideways|straight|into)
    | \bwhere\s+(?:is|are|was)\s+\w+\s+looking\b | \bwhich\s+way\b | \bwhat\s+direction\b | \bfacing\b | \bturned\b | \bpose\b | \bnose\b | \bnostrils\b | \bcheeks?\b | \bwrinkl | \bfurrow | \bpursed\b
    | \bparted\b | \bglasses\b | \bhair\b | \bbeard\b | \bwearing\b | \bhow\s+old\b | \bage\b | \bgaping\b | \bwide\s+open\b
    | \bclosed\b | \bshut\b | \braised\b | \bopen\b
""")

EMOTION_CUE_RE = _rx(r"""
    \bemotions?\b | \bemotional | \bfeel(?:s|ing|ings|in)?\b | \bexpress(?:ing|es)?\b | \b(?:sure|certain|certainty)\b
    | \bwhat\s+(?:does|would|do)\s+(?:the\s+)?(?:model|classifier|network|it|ai|you)\s+(?:think|say|see|predict|read|call|label|name)\b | \bmoods?\b | \bexpressions?\b | \bsentiment | \bstate\s+of\s+mind\b
    | \bvibes?\b | \baffect\b | \btemper\b | \bhow\s+(?:does|do|is|are|'s)\s+(?:she|he|they|it|this\s+\w+|the\s+\w+)\s+(?:look|looking|seem|seeming|feel|doing|appear)
    | \bseems?\b | \bappears?\b | \bclassif | \bpredict | \banaly[sz] | \bread\s+(?:her|his|their|the|this|that)\s+(?:face|expression|emotions?|mood)
    | \bhow\s+(?:does|do|would|did)\s+(?:it|you|the\s+(?:model|classifier|ai))\s+read\s+(?:her|him|them|this|that|it)\b
    | \bwhat\s+came\s+(?:second|next)\b
    | \bwhat\s+do\s+you\s+(?:see|think|make\s+of|reckon) | \btell\s+me\s+about\s+(?:this|the|her|his|their|that)\s+(?:photo|picture|image|face|person|pic|one)
    | \bguess\b | \bdetect | \brecogni[sz]e\s+(?:the\s+|her\s+|his\s+)?(?:emotion|expression|feeling) | \bwhat(?:'s|\s+is)\s+(?:going\s+on|up)\s+with
    | \bcheck\s+(?:this|the|her|his|that)\b | \bhow\s+(?:happy|sad|angry|scared|surprised) | \bfacial\s+expression | \bwhat\s+(?:is|'s)\s+(?:she|he|they)\s+(?:showing|expressing)
    | \bcompound\b | \bconfiden | \bprobabilit | \bscores?\b | \brunner[\s-]*up\b | \bsecond\s+(?:guess|choice|most\s+likely)
""")

COMPARE_RE = _rx(rf"""
    \bcompar | \bdifferences?\b | \bdiffer(?:s|ing)?\b | \bversus\s+the\s+other | \bboth\b | \b(?:these|those)\s+(?:two\s+)?{_PHOTO}s\b
    | \b(?:the\s+)?two\s+{_PHOTO}s | \beach\s+{_PHOTO} | \ball\s+(?:the\s+|my\s+|of\s+the\s+)?{_PHOTO}s | \bevery\s+{_PHOTO}
    | \bwhich\s+(?:one|{_PHOTO}|of\s+(?:them|the\s+two|these|two|both))\s+(?:is|looks|seems|appears|shows|has|have)
""")

HELP_RE = _rx(r"""
    \bwhat\s+(?:can|could|do)\s+you\s+(?:do|offer|help|tell) | \bhelp\b | \bhow\s+(?:does|do)\s+(?:this|it|you)\s+work
    | \bwhat\s+are\s+you\b | \bwho\s+are\s+you\b | \bcapabilit | \bwhat\s+(?:should|can|could)\s+i\s+(?:ask|do|say|try|upload)
    | \bhow\s+(?:do|can|should)\s+i\s+(?:use|start|begin) | \binstructions\b | \bcommands\b | \bwhat\s+tools | \bwhat\s+is\s+this\s+(?:app|tool|thing)
    | \bwhat\s+(?:are\s+)?your\s+(?:skills|abilities|features|functions) | \bwhat\s+(?:kind|sort)\s+of\s+(?:questions|things)
    | \bwhat\s+else\b | \bhow\s+can\s+you\s+help
""")
GREETING_RE = _rx(
    r"^\W*(?:hi|hello|hey|hiya|howdy|yo|greetings|good\s+(?:morning|afternoon|evening|day)|hallo|hola)\b"
)
THANKS_RE = _rx(r"""\b(?:thanks|thank\s+you|thx|ty|cheers|appreciate(?:d)?)\b
    | ^\W*(?:great|nice|cool|awesome|perfect|ok(?:ay)?|got\s+it|i\s+see|wow|neat|interesting|good|excellent|understood)\W*$
    | \b(?:exactly|just)\s+what\s+i\s+(?:needed|wanted|was\s+(?:after|looking\s+for))\b
    | ^\W*(?:brilliant|lovely|great|perfect|fantastic|amazing|super|wonderful|splendid|superb|excellent)\b[^?]*$""")
BYE_RE = _rx(r"\b(?:bye|goodbye|good\s+bye|see\s+you|farewell|that'?s\s+all)\b")
FOLLOW_RE = _rx(r"""
    ^\W*(?:and|what\s+about|how\s+about|now|same|also|then|ok(?:ay)?|so|but|for|with|using|try|do|redo|again)\b
    | \b(?:instead|again|too|as\s+well|the\s+same|this\s+time|that\s+one|the\s+other|likewise|also)\b
""")

_PEOPLE = (
    r"(?:faces?|people|ppl|folks|persons?|individuals|heads|women|men|ladies|guys|kids|children|subjects)"
)
COUNT_RE = _rx(rf"""
    \bhow\s+many\s+{_PEOPLE}\b | \bcount\s+(?:the\s+|all\s+(?:the\s+)?)?{_PEOPLE}\b | \bnumber\s+of\s+{_PEOPLE}\b
    | \b(?:has|have|with)\s+(?:more|most|fewer|less)\s+{_PEOPLE}\b
    | \bhow\s+many\b[^?.!]*\b(?:in\s+total|altogether|do\s+you\s+see|can\s+you\s+see|are\s+there)\b
    | \bare\s+there\s+(?:several|multiple|many|any\s+other)\s+{_PEOPLE}
    | \b(?:is|are)\s+there\s+(?:just|only)\s+(?:the\s+)?(?:one|a\s+single|two|three|four|five|\d+)\s+{_PEOPLE}
""")
LOCATE_RE = _rx(r"""
    \bwhere\s+(?:are|is)\s+(?:the\s+|each\s+|every\s+|all\s+(?:the\s+)?)?(?:faces?|people|persons?|person\s*\#?\d|face\s*\#?\d)
    | \b(?:label|mark|number|annotate|outline|box|tag)\s+(?:the\s+|each\s+|every\s+|all\s+(?:the\s+)?)?(?:faces?|people|persons?|photo|image|picture)\b
    | \bpoint\s+out\s+(?:the\s+|each\s+|every\s+|all\s+(?:the\s+)?)?(?:faces?|people|persons?)
    | \bshow\s+(?:me\s+)?where\s+(?:the\s+|each\s+|every\s+)?(?:faces?|people|persons?)
    | \bshow\s+(?:me\s+)?(?:the\s+|all\s+(?:the\s+)?)?faces\b | \bfaces?\s+numbered\b
    | \b(?:has|with|have|got|contains?)\s+(?:no|zero)\s+faces?\b | \bwithout\s+(?:a\s+|any\s+)?faces?\b | \bhallucinat\w*
    | \bfind\s+(?:every(?:one|body)'?s?|all\s+(?:the\s+|their\s+)?|each\s+|the\s+)faces?\b | \bnumbered\s+(?:photo|image|picture|faces?)\b
    | \bwhich\s+(?:one|face|person)\s+is\s+(?:face|person|number)\s*\#?\s*(?:\d|one|two|three)
    | \bwhich\s+(?:face|person|one)\s+is\s+(?:the\s+)?(?:biggest|largest|smallest|tallest|closest|nearest|furthest|farthest)\b
    | \bfind\s+(?:the\s+|all\s+(?:the\s+)?)?faces\b | \bdetect\s+(?:the\s+|all\s+(?:the\s+)?)?faces\b
""")
REPORT_RE = _rx(r"""
    \beverything\b | \ball\s+(?:you\s+(?:can|know)|there\s+is\s+to\s+know)\b
    | \b(?:full|complete|whole|detailed|thorough|comprehensive)\s+(?:report|analysis|breakdown|rundown|run-down|picture|workup|description)
    | \banaly[sz]e\s+(?:it\s+)?(?:all|everything|fully|in\s+full)\b | \bfull\s+works\b
""")
YESNO_RE = _rx(r"""
    ^\W*(?:so\s+|and\s+|but\s+|ok(?:ay)?\s+|well\s+)?(?:is|are|does|do|did|was|were|can|could|has|have|would|will|isn't|doesn't|aren't)\b
""")
YESNO_ASKED_RE = _rx(r"\byes\s*(?:or|/)\s*no\b | \byes[\s/-]*no\b | \bjust\s+(?:a\s+)?yes\b")
WORD_RE = _rx(r"""
    \b(?:in\s+)?(?:one|a\s+single|single|1)[\s-]+word\b | \bone[\s-]+word\b
    | \bjust\s+(?:give\s+me\s+|tell\s+me\s+|say\s+|name\s+)?(?:the\s+)?(?:emotion|label|feeling|mood)(?:\s+name)?\s*(?:[,.!?]|$)
    | \bonly\s+(?:give\s+me\s+|tell\s+me\s+)?the\s+(?:emotion|label|feeling)\b | \bjust\s+the\s+(?:emotion|label|word)\b
""")
RANK_RE = _rx(r"""
    \b(?:rank|order|sort)\b | \bwhich\s+(?:\w+\s+){0,4}(?:more|most|less|least|\w+er|\w+est)\b
    | \bwho(?:'s|\s+is|\s+looks?|\s+seems?|\s+appears?|\s+reads?|\s+comes\s+across)\s+(?:as\s+)?(?:the\s+)?(?:more|most|less|least|\w+er|\w+est)\b
    | \bwho\s+is\s+happier\b | \bwho(?:'s|\s+is)\s+\w+ing\s+(?:harder|more|less|louder|bigger|wider|the\s+most|the\s+least)\b
""")
_KEEN_RE = _rx(
    r"\b(?:most|least|more|less)\s+(?:into\s+it|enthusiastic|engaged|excited|upbeat|positive|cheerful|keen|thrilled|hyped|"
    r"pumped|stoked|buzzing|joyful|joyous|lively)\b"
    r"|\bwho(?:'s|\s+is)\s+(?:laugh|smil|grinn)\w*\s+(?:harder|more|less|louder|bigger|wider|the\s+most|the\s+least)\b"
)
EVERYONE_RE = _rx(r"""
    \beveryone\b | \bevery1\b | \beverybody\b | \beach\s+(?:face|person|one\s+of\s+them|of\s+them|individual)\b | \bevery\s+(?:face|person|one\s+of\s+them)\b
    | \ball\s+(?:the\s+)?(?:faces|people|persons)\b | \ball\s+of\s+them\b | \bthey\s+all\b | \bthem\s+all\b | \bboth\s+(?:of\s+them|faces|people|persons)\b
    | \bgroup\s+(?:photo|picture|shot|image)\b | \bwhat\s+(?:are|do|were)\s+they\b | \bhow\s+(?:are|do|were)\s+they\b | \bthese\s+(?:people|faces|persons)\b
    | \bthe\s+(?:people|faces)\b | \btheir\s+(?:eyes|mouths|faces|brows|eyebrows|heads|expressions|smiles|moods)\b
""")
ANYONE_RE = _rx(
    r"\b(?:anyone|any1|anybody|any\s+(?:of\s+them|face|person|one\s+of\s+them)|someone|some1|somebody)\b"
)
_SMILE_RE = re.compile(r"\b(smiling|smiles?|grinning|laughing|frowning|frowns?|crying)\b", re.IGNORECASE)
SMILE_RE = _SMILE_RE
TOTAL_RE = _rx(r"\b(?:in\s+total|altogether|all\s+together|in\s+all|across\s+(?:all|both|the)|overall)\b")
WHO_RE = _rx(
    r"^\W*(?:and\s+|so\s+)?(?:who|which(?:\s+(?:one|person|face|of\s+them|photo|picture))?)(?:\s+is\s+it)?\W*$"
)
CORRECTION_RE = _rx(r"""
    ^\W*(?:no|nope|nah|not\s+(?:that|this|her|him)|wrong|i\s+meant|i\s+mean|sorry)\b | \bi\s+meant\b | \bnot\s+that\s+one\b | \bwrong\s+(?:photo|picture|image|face|person|one)\b
""")
_EMOTION_REF = {
    "smiling": "happy", "smiley": "happy", "grinning": "happy", "laughing": "happy", "happy": "happy",
    "happier": "happy", "happiest": "happy", "cheerful": "happy", "joyful": "happy", "sad": "sad", "sadder": "sad",
    "saddest": "sad", "crying": "sad", "unhappy": "sad", "angry": "angry", "angrier": "angry", "angriest": "angry",
    "frowning": "angry", "mad": "angry", "neutral": "neutral", "serious": "neutral", "calm": "neutral",
    "calmer": "neutral", "calmest": "neutral", "surprised": "surprise", "shocked": "surprise", "scared": "fear",
    "frightened": "fear", "afraid": "fear", "disgusted": "disgust",
}  # fmt: skip
_EMOTION_REF_RE = re.compile(
    r"\bthe\s+(?:(?:more|most)\s+)?("
    + "|".join(_EMOTION_REF)
    + r")(?:[\s-]+looking)?\s+(?:one|person|face|woman|man|lady|guy|"
    r"girl|boy|photo|picture|image|pic)\b|\bthe\s+one\s+(?:who(?:'s|\s+is|\s+looks?|\s+seems?)?|that(?:'s|\s+is|\s+looks?)?)\s+"
    r"(?:more\s+|most\s+)?(" + "|".join(_EMOTION_REF) + r"|smiles?)\b",
    re.IGNORECASE,
)
_POSITION_WORDS = {
    "left": "left", "leftmost": "left", "right": "right", "rightmost": "right", "middle": "middle", "centre": "middle",
    "center": "middle", "central": "middle", "top": "top", "upper": "top", "bottom": "bottom", "lower": "bottom",
    "largest": "largest", "biggest": "largest", "big": "largest", "large": "largest", "smallest": "smallest",
    "small": "smallest", "tiniest": "smallest", "closest": "largest", "nearest": "largest", "furthest": "smallest",
    "farthest": "smallest",
}  # fmt: skip
_SIDE = r"(?:far\s+|very\s+|extreme\s+)?(left|right|middle|centre|center|top|bottom)"
_POSITION_RES = (
    re.compile(
        rf"(?<!looking )(?<!look )(?<!turned )(?<!turning )(?<!facing )\b(?:on|at|in)\s+the\s+{_SIDE}\b", re.I
    ),
    re.compile(
        rf"\b(?:the\s+)?(leftmost|rightmost|left|right|middle|centre|center|central|top|bottom|upper|lower|largest|"
        rf"biggest|smallest|tiniest|closest|nearest|furthest|farthest|big|small|large)(?:[\s-]+most)?\s+"
        rf"(?:{_PERSON}|one|faces?)\b",
        re.I,
    ),
    re.compile(r"\b(leftmost|rightmost)\b", re.I),
)


PERSONAL_RE = re.compile(
    r"\b(?:she|he|her|him|his|hers|they|them|their)\b|\b(?:this\s+(?:person|face|woman|man|photo|picture|image|pic|guy|girl|lady|one)|"
    r"the\s+(?:person|face|woman|man|photo|picture|image|lady|guy|girl|boy|kid|people)\b(?!\s+(?:model|classifier))|face\s*\d|photo\s*\d|"
    r"img\d|in\s+the\s+(?:photo|picture|image|pic|video|clip)|that\s+(?:photo|video))",
    re.IGNORECASE,
)
_WHO = r"(?:guy|man|woman|girl|lady|boy|kid|person|one|dude|gal|fella|child|blonde?|brunette|redhead|officer|soldier|chap|bloke|lad|lass|fellow|teen|teenager)"
_NOT_LOOKS = (
    r"(?!\s+(?:the\s+|a\s+|this\s+|that\s+|these\s+|our\s+|my\s+)?(?:middle|left|right|front|back|top|bottom|corner|cent(?:er|re)|first|second|third|last|other|"
    r"photo|picture|image|pic|shot|video|clip|foreground|background|group|row|most|least|more|less|biggest|widest|largest|"
    r"smallest|best|highest|lowest|happiest|saddest|angriest|\w+est\b|smil\w*|happ\w*|sad\w*|angr\w*|neutral|surpris\w*|"
    r"scared|afraid|disgust\w*|frown\w*|laugh\w*|cry\w*|grin\w*|look(?:s|ing)?\s+(?:happ|sad|ang|neut|surp|scar|disg|calm|upset)\w*|"
    r"seems?\b|looks?\s+(?:the|more|most|less|least)\b|is\s+(?:the\s+)?(?:most|least|more|less|happ|sad|ang)\w*)\b)"
)
APPEARANCE_RE = re.compile(
    rf"\b(?:the|that|this)\s+{_WHO}s?\s+(?:(?:with|w|wearing|in|holding|biting|looking\s+(?:at|down|away)|on\s+(?:her|his|their|the)\s+phone"
    rf"|who(?:'s|\s+is|\s+has)?|that(?:'s|\s+is|\s+has)?|carrying|eating|drinking|sitting|standing|leaning|hugging|pointing|raising|"
    rf"making|doing|playing|taking|covering|touching|resting)\b|w/){_NOT_LOOKS}"
    r"|\b(?:the|that)\s+(?:curly|curly[\s-]haired|blonde?|brunette|bald|bearded|ginger|red[\s-]?haired|redheaded|dark[\s-]haired|"
    r"long[\s-]haired|short[\s-]haired|gr[ae]y[\s-]haired|white[\s-]haired|black[\s-]haired|tall|short|tattooed|masked|pouting|"
    r"skinny|chubby|pale|tanned)\s*(?:\w+\s+)?(?:guy|man|woman|girl|lady|boy|kid|person|one|dude|chick)\b"
    r"|\b(?:guy|man|woman|girl|lady|boy|kid|person|one|dude|lad|lass|fellow|teen)\s+(?:in|wearing|with|w/|w)\s+(?:the\s+|a\s+|an\s+)?(?:\w+[\s-]+){0,2}"
    r"(?:dress|shirt|t-?shirt|tee|top|jacket|hat|cap|glasses|sunglasses|shades|hoodie|uniform|outfit|suit|tie|scarf|bow|beard|"
    r"moustache|mustache|hair|makeup|make-up|paint|necklace|earrings|helmet|coat|sweater|jumper|skirt|blouse|vest|lipstick|"
    r"red|green|blue|black|white|yellow|pink|purple|gr[ae]y|orange|brown|stripes|striped)\b"
    r"|\b(?:the|that)\s+(?:\w+[\s-]+){0,2}(?:makeup|make-up|clown|sunglasses|shades|glasses|hat|cap|dress|shirt|hoodie|"
    r"beard|bow|scarf|uniform|suit|hijab|tattoo|costume|drink|phone|jacket|necklace)\s+(?:one|guy|man|woman|girl|lady|dude|person)\b",
    re.IGNORECASE,
)
FACE_REF_RE = re.compile(
    rf"\b(?:{_ORD}|other|left(?:most)?|right(?:most)?|last)\s+{_PERSON}\b|\b{_PERSON}\s*(?:#|no\.?|number|nr\.?)?\s*\d\b"
    r"|\b(?:second|third|fourth|2nd|3rd|4th)\s+from\b|\b(?:on|at|in)\s+the\s+(?:far\s+)?(?:left|right|middle|top|bottom|back|front)\b"
    r"|\b(?:top|bottom|upper|lower)[\s-]+(?:left|right)\b|\b(?:number|no\.|#)\s*\d\b|\b(?:left|right|middle)\s+one\b",
    re.IGNORECASE,
)
PRODUCT_RE = re.compile(
    r"\b(?:model|models|app|tool|software|program|classifier|network|system|product|offline|internet|online|cloud|server|"
    r"privacy|private|stored?|storage|saved?|delete[sd]?|data|dataset|trained|training|accura\w*|reliab\w*|api|python|code|"
    r"webcam|camera|live|formats?|file\s+types?|supported|support|install\w*|gpu|cpu|licen[cs]e|version|works?|methods?|"
    r"legal|law|gdpr|biased?|bias)\b",
    re.IGNORECASE,
)
METHOD_RE = re.compile("|".join(f"(?:{p.pattern})" for _, p in METHOD_PATTERNS), re.IGNORECASE | re.VERBOSE)


_CLAUSE_SPLIT = re.compile(
    r"[?!;]+|\.(?:\s|$)|,\s*|\s+(?:and|also|plus|then|but)\s+(?=(?:also\s+|then\s+)?(?:why|what|how|where|which|who|is|are|does|do|did|can|could|"
    r"show|explain|describe|tell|give|whether|was|were|has|have|her|his|their)\b)",
    re.IGNORECASE,
)
_LEADING = re.compile(
    r"^\s*(?:and|also|plus|then|but|so|oh|ok(?:ay)?|well|please|pls|now)\b[\s,]*", re.IGNORECASE
)


@dataclass
class Request:
    """What one user message asks for.

    Attributes:
        text: the message, without attachment notes.
        intents: tools wanted, in the order asked (``classify``, ``explain``, ``ask``, ``describe``).
        questions: the clauses to pass to the question tool, one per ``ask``.
        target: the emotion to explain (a label of the model), or None.
        versus: the emotion to contrast with, or None.
        emotions: every emotion mentioned (labels), e.g. "is she sad?" -> ["sad"].
        comparative: the emotion of "which one is happier", or None.
        method: a CAM method name, or None.
        face: a face number (1 = most prominent), ``"other"``, ``"left"`` or ``"right"``, or None.
        image: a photo number, ``"all"``, ``"other"``, ``"latest"``, ``"this"``, an image id, or None.
        generic_one: an ordinal with no noun ("the second one"): photo or face, the planner decides.
        generic_many: several ordinals with no noun ("compare the first and the third"), in order.
        compare: the user wants the photos compared.
        follow_up: words that continue the last request ("instead", "again", "what about ...").
        emotion_only: the only cue for classify is a named emotion ("what about sadness?").
        small_talk: ``refuse``, ``help``, ``greeting``, ``thanks`` or ``bye`` (only without intents).
        count: "how many faces?" (answered by locating the faces).
        report: "tell me everything about this face" (classify + explain + describe).
        shape: how the answer should start: ``yesno`` (yes or no first), ``word`` (the one word asked
            for), ``rank`` (which face/photo is the most ...), or None.
        everyone: every face of the photo ("everyone", "each person", "what are they feeling?").
        anyone: any face ("is anyone sad?").
        face_emotion: the emotion of a face named by it ("the smiling one" -> ``happy``).
        image_refs: every photo reference, in the order written ("compare this one with the first
            photo" -> ``["latest", 1]``).
        correction: the message corrects the last turn ("no, the other photo").
        knowledge: a question about the product itself (``emotion:<label>``, ``compound``, ``labels``,
            ``gradcam``, ``faithfulness``, ``model``, and the topics of ``topics.TOPICS``), answered
            without tools.
        act: what kind of message it is (``analyze``, ``product/<topic>``, ``boundary/<category>``,
            ``refuse``, ``chat/<kind>``), from the learned classifier.
        confidence: the classifier's probability of ``act``.
        alternatives: the runner-up acts with their probabilities (for a clarifying question).
        boundary: the ``tools.boundaries`` category of a request this product declines, or None.
        clarify: understanding is unsure what the message asks: the agent asks instead of guessing.
        appearance: a person named by appearance ("the guy in sunglasses"), which no offline model
            can resolve: the words as written, or None.
        soft_note: the message asks what is felt behind a face ("is he really happy?"): the answer says
            that an expression is not a feeling.
        paragraph: the answer is asked for in one (short) paragraph.
        each: "one by one" / "each person": a reading per face.
        faces: several faces named by number ("between face 1 and face 4"), to compare.
    """

    text: str
    intents: list[str] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)
    target: str | None = None
    versus: str | None = None
    emotions: list[str] = field(default_factory=list)
    comparative: str | None = None
    method: str | None = None
    face: int | str | None = None
    image: int | str | None = None
    generic_one: int | str | None = None
    generic_many: list[int | str] = field(default_factory=list)
    compare: bool = False
    follow_up: bool = False
    emotion_only: bool = False
    small_talk: str | None = None
    count: bool = False
    report: bool = False
    shape: str | None = None
    everyone: bool = False
    anyone: bool = False
    face_emotion: str | None = None
    image_refs: list[int | str] = field(default_factory=list)
    correction: bool = False
    knowledge: str | None = None
    act: str = "analyze"
    confidence: float = 1.0
    alternatives: list[tuple[str, float]] = field(default_factory=list)
    boundary: str | None = None
    clarify: bool = False
    appearance: str | None = None
    soft_note: bool = False
    paragraph: bool = False
    each: bool = False
    faces: list[int] = field(default_factory=list)

    @property
    def has_details(self) -> bool:
        """True when the message names something a follow-up can apply (emotion, method, face, photo)."""
        return any(
            v is not None
            for v in (self.target, self.versus, self.method, self.face, self.image, self.generic_one)
        ) or bool(self.emotions or self.image_refs or self.everyone)


def _label(word: str, labels: tuple[str, ...]) -> str:
    try:
        return normalize_label(word, labels)
    except InvalidRequestError:
        return word  # the tool will answer with the labels this model knows


def _emotions(text: str, labels: tuple[str, ...]) -> list[tuple[str, int]]:
    """(label, position) of each emotion mentioned."""
    found = []
    for m in _EMOTION_WORD_RE.finditer(text):
        if m.group("adverb"):
            found.append((_label(f"{m.group('adverb')} {m.group('adj')}", labels), m.start()))
        else:
            word = m.group("word").lower()
            found.append((_label(EMOTION_WORDS[word], labels), m.start()))
    return found


_NAMED_METHOD = re.compile(
    r"\b(?:with|using|use|via)\s+(?:the\s+)?([a-z0-9+_-]{2,30})\s+(?:method|technique)\b", re.I
)


def extract_method(text: str) -> str | None:
    """The CAM method named in ``text`` ("with grad-cam++" -> ``gradcam++``), or None.

    A method the project does not know, named as one ("with the foo method"), comes back as written,
    so the explain tool answers with the list of methods instead of silently using Grad-CAM.
    """
    for name, pattern in METHOD_PATTERNS:
        if pattern.search(text):
            return name
    named = _NAMED_METHOD.search(text)
    return named.group(1).lower() if named else None


def _face_ref(text: str) -> int | str | None:
    low = text.lower()
    m = re.search(rf"\b({_ORD}|other|left(?:most)?|right(?:most)?|last)\s+{_PERSON}\b", low)
    if m:
        word = m.group(1)
        if word in _ORDINALS:
            return _ORDINALS[word]
        return {"leftmost": "left", "rightmost": "right", "last": "last"}.get(word, word)
    m = re.search(rf"\b{_PERSON}\s*(?:#|no\.?|number|nr\.?)?\s*(\d+|one|two|three|four|five)\b", low)
    if m:
        return int(m.group(1)) if m.group(1).isdigit() else _ORDINALS[m.group(1)]
    m = re.search(r"\b(second|third|fourth|2nd|3rd|4th)\s+from\s+(?:the\s+)?(left|right)\b", low)
    if m:
        nth = {"2nd": "second", "3rd": "third", "4th": "fourth"}.get(m.group(1), m.group(1))
        return f"{nth} from {m.group(2)}"
    if _NEXT_TO_RE.search(low):
        return "other"  # "the one next to her": the face beside the one in focus
    m = _BARE_NUMBER_RE.search(low)
    if m:
        return int(m.group(1) or m.group(2)) if (m.group(1) or m.group(2)) else NUMBER_WORDS[m.group(3)]
    position = _position(low)
    if position:
        return position
    if _EMOTION_REF_RE.search(low):
        return "emotion"
    return None


_NEXT_TO_RE = re.compile(
    r"\b(?:next\s+to|beside|besides|right\s+by)\s+(?:her|him|them|that\s+one|this\s+one)\b|\bthe\s+next\s+one\b"
    r"|\b(?:her|his|their)\s+neighbou?r\b",
    re.IGNORECASE,
)
_BARE_NUMBER_RE = re.compile(
    r"^\W*(?:(?:it'?s|that'?s|she'?s|he'?s|i\s+mean|the)\s+)?(?:face\s+|number\s+|num\.?\s*|no\.?\s*|nr\.?\s*|#\s*)?([1-9])(?:st|nd|rd|th)?"
    r"(?:\s+(?:one|please|pls|i\s+think|i\s+guess|i\s+believe|probably|prob|maybe|perhaps|i'?d\s+say|i\s+reckon|i\s+suppose))*\W*$"
    r"|\b(?:number|num\.?|no\.|nr\.?|#)\s*([1-9])\b(?!\s*(?:photos?|pictures?|images?|pics?|videos?|clips?|of\b))"
    r"|(?<!the\s)\bnumber\s+(one|two|three|four|five|six|seven|eight|nine)\b"
    r"(?!\s*(?:photos?|pictures?|images?|pics?|videos?|clips?|of\b|reason|thing|fan|priority|choice|rule))",
    re.IGNORECASE,
)
NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
}  # fmt: skip
_VERTICAL = {
    "top": "top", "upper": "top", "back": "top", "background": "top", "rear": "top",
    "bottom": "bottom", "lower": "bottom", "front": "bottom", "foreground": "bottom",
}  # fmt: skip
_HORIZONTAL = {
    "left": "left", "leftmost": "left", "right": "right", "rightmost": "right", "middle": "middle",
    "centre": "middle", "center": "middle", "central": "middle",
}  # fmt: skip
_COMBO_RE = re.compile(
    r"\b(top|upper|bottom|lower|front|back)[\s-]+(left|right|middle|centre|center)\b"
    r"|\b(left|right)[\s-]+(top|bottom|front|back)\b",
    re.IGNORECASE,
)
_ROW_RE = re.compile(
    r"\b(?:at|in)\s+the\s+(back|front|rear|background|foreground)\b|\b(?:in\s+)?(front|back)\s+row\b"
    r"|(?<!looking )(?<!look )\bin\s+front\b",
    re.IGNORECASE,
)


_HEIGHT_RE = re.compile(
    r"\b(?:sitting|standing|seated|one)\s+(?:the\s+)?(?:(highest|top\s*most)|(lowest|bottom\s*most))\b",
    re.IGNORECASE,
)


def _position(low: str) -> str | None:
    """A face named by position: one word ("left", "largest"), or a row and a side ("top left")."""
    m = _COMBO_RE.search(low)
    if m:
        vertical = _VERTICAL[(m.group(1) or m.group(4)).lower()]
        horizontal = _HORIZONTAL[(m.group(2) or m.group(3)).lower()]
        return f"{vertical} {horizontal}"
    side = None
    for pattern in _POSITION_RES:
        m = pattern.search(low)
        if m:
            side = _POSITION_WORDS[m.group(1).lower()]
            break
    if side is None:
        height = _HEIGHT_RE.search(low)
        if height:
            return "top" if height.group(1) else "bottom"  # "the one sitting highest up on the stairs"
    row = _ROW_RE.search(low)
    if row:
        word = (row.group(1) or row.group(2) or "front").lower()
        vertical = _VERTICAL.get(word, "bottom")
        if side in ("left", "right", "middle"):
            return f"{vertical} {side}"
        return side or vertical
    return side


_SEVERAL_FACES_RE = re.compile(
    r"\b(?:faces?|persons?|numbers?|no\.?|#)\s*\d(?:\s*(?:,|and|&|or|vs\.?|versus|with|to)\s*(?:(?:face|person|number|no\.?|#)\s*)?\d)+\b",
    re.IGNORECASE,
)


_THAN_RE = re.compile(
    r"\bthan\s+(?:the\s+|in\s+the\s+)?(first|second|third|last|other|previous|original|latest)\b",
    re.IGNORECASE,
)
_WHICH_PHOTO_RE = re.compile(
    r"\bwhich\s+(?:one|photo|pic|picture|image|shot)\b|\bmore\s+(?:people|faces)\b|\b(?:this|the)\s+one\s+or\s+the\s+other\b",
    re.IGNORECASE,
)


def _face_emotion(text: str) -> str | None:
    m = _EMOTION_REF_RE.search(text)
    if not m:
        return None
    word = (m.group(1) or m.group(2)).lower()
    return "happy" if word.startswith("smile") else _EMOTION_REF[word]


_IMAGE_WORDS = {
    "last": "latest", "latest": "latest", "newest": "latest", "new": "latest", "newer": "latest", "most recent": "latest",
    "previous": "previous", "earlier": "previous", "prior": "previous", "older": "previous", "old": "previous", "original": 1,
    "other": "other", "this": "this", "that": "this", "current": "this",
}  # fmt: skip
_IMAGE_REF_RE = re.compile(
    rf"\bimg(?P<id>\d+)\b|\b{_PHOTO}\s*(?:#|no\.?|number)?\s*(?P<num>\d+)\b"
    rf"|\b(?P<word>{_ORD}|last|latest|newest|newer|new|most\s+recent|previous|earlier|older|old|original|other|this|that|current)"
    rf"\s+{_PHOTO}s?\b"
    r"|\b(?P<one>this(?:\s+(?:new|newer|newest|latest))?|the\s+(?:new|newer|newest|latest|old|older|previous|earlier|prior))\s+one\b",
    re.IGNORECASE,
)
PHOTO_REF_RE = _IMAGE_REF_RE


def _image_refs(text: str) -> list[int | str]:
    """Every photo reference in the order written."""
    refs: list[int | str] = []
    for m in _IMAGE_REF_RE.finditer(text):
        if m.group("id"):
            ref: int | str = f"img{m.group('id')}"
        elif m.group("num"):
            ref = int(m.group("num"))
        elif m.group("word"):
            word = " ".join(m.group("word").lower().split())
            ref = _ORDINALS[word] if word in _ORDINALS else _IMAGE_WORDS[word]
        else:
            word = m.group("one").lower().split()[-1]
            ref = "latest" if word == "this" else _IMAGE_WORDS[word]
        if ref not in refs:
            refs.append(ref)
    return refs


def _image_ref(text: str) -> int | str | None:
    refs = _image_refs(text)
    return refs[0] if refs else None


_GENERIC_MANY_RE = re.compile(
    rf"\bthe\s+(?P<a>{_ORD}|last)(?:\s+one)?\s*(?:and|&|,|vs\.?|versus|with|to|against)\s*(?:the\s+)?(?P<b>{_ORD}|last)\b"
    r"(?!\s+(?:faces?|persons?|people|girls?|boys?|guys?|wom[ae]n|m[ae]n|ones?\s+from))",
    re.IGNORECASE,
)


def _generic_many(text: str) -> list[int | str]:
    m = _GENERIC_MANY_RE.search(text)
    if not m:
        return []
    return [_ORDINALS.get(w.lower()) or "latest" for w in (m.group("a"), m.group("b"))]


def _generic_one(text: str) -> int | str | None:
    m = re.search(rf"\bthe\s+({_ORD}|other|last|latest|new)\s+one\b", text.lower())
    if not m:
        return None
    word = m.group(1)
    return _ORDINALS.get(word) or {"latest": "latest", "new": "latest", "last": "latest"}.get(word, word)


_COMPARATIVE = _rx(
    r"\b(?:(happier|sadder|angrier|calmer|scarier)|more\s+(\w+)|most\s+(\w+)|less\s+(\w+)|(happiest|saddest|angriest))\b"
)


def _comparative(text: str, labels: tuple[str, ...]) -> str | None:
    m = _COMPARATIVE.search(text)
    if not m:
        return None
    word = next(g for g in m.groups() if g)
    emotion = EMOTION_WORDS.get(word.lower())
    return _label(emotion, labels) if emotion else None


def clauses(text: str) -> list[str]:
    """The message cut into clauses ("what is she feeling, why, and is the mouth open?" -> 3)."""
    parts = [_LEADING.sub("", p).strip() for p in _CLAUSE_SPLIT.split(text)]
    return [p for p in parts if p and re.search(r"\w", p)]


def _clause_intents(clause: str) -> list[str]:
    if EXPLAIN_RE.search(clause):
        return [EXPLAIN]
    if DESCRIBE_RE.search(clause):
        if FEATURE_RE.search(clause) and not re.search(r"\bface\b", clause, re.IGNORECASE):
            return [ASK]  # "describe the eyes": a question about one feature
        return [CLASSIFY, DESCRIBE] if EMOTION_CUE_RE.search(clause) else [DESCRIBE]
    feature = FEATURE_RE.search(clause)
    emotion = EMOTION_CUE_RE.search(clause) or _EMOTION_WORD_RE.search(clause)
    if feature and not (
        emotion and re.match(r"\s*(?:how|what)\b", clause, re.IGNORECASE) and not _is_state(clause)
    ):
        return [ASK]
    if emotion:
        return [CLASSIFY]
    return []


def _emotion_word_only(clause: str) -> bool:
    """True when a clause is about emotion only because it names one ("what about sadness?")."""
    return bool(_EMOTION_WORD_RE.search(clause)) and not EMOTION_CUE_RE.search(clause)


def _is_state(clause: str) -> bool:
    """True when a clause asks about a feature's state ("what is the mouth doing")."""
    return bool(
        re.search(r"\b(?:mouth|eyes?|brows?|eyebrows?|lips|head|teeth|gaze)\b", clause, re.IGNORECASE)
    )


def _alternatives(text: str, mentions: list[tuple[str, int]]) -> bool:
    """True for "is she happy or sad?": a choice between emotions, not a yes/no question."""
    return (
        len({label for label, _ in mentions}) > 1 and re.search(r"\bor\b(?!\s+not\b)", text, re.I) is not None
    )


def parse(text: str, labels: tuple[str, ...] | list[str] | None = None) -> Request:
    """Reads one user message by rules: its slots, and a first guess at what it asks.

    Args:
        text: the message (attachment notes already removed).
        labels: the classifier's labels, to resolve emotions into; basic + compound when None.
    """
    labels = tuple(labels) if labels else DEFAULT_LABELS
    text = " ".join(str(text).split())
    req = Request(text=text)
    if not text:
        req.small_talk = "empty"
        return req
    if REFUSE_RE.search(text):
        req.small_talk = "refuse"
        return req

    from agent.understanding.topics import topic_of

    req.knowledge = topic_of(text)
    if req.knowledge:
        return req

    parts = clauses(text)
    for clause in parts:
        if COUNT_RE.search(clause) or LOCATE_RE.search(clause):
            found = [LOCATE]
        else:
            found = _clause_intents(clause)
        for intent in found:
            if intent == ASK:
                req.questions.append(clause if clause.endswith("?") else clause + "?")
            if intent not in req.intents:
                req.intents.append(intent)
    req.count = bool(COUNT_RE.search(text))
    smile_emotion = None
    smile = _SMILE_RE.search(text)
    if smile and req.intents == [ASK] and (EVERYONE_RE.search(text) or ANYONE_RE.search(text)):
        # "is anyone smiling?" asks about the readings of every face: the classifier answers it
        req.intents, req.questions = [CLASSIFY], []
        word = smile.group(1).lower()
        smile_emotion = "angry" if word.startswith("frown") else "sad" if word == "crying" else "happy"
    req.report = bool(REPORT_RE.search(text))
    if req.report:
        extra = [i for i in req.intents if i not in (CLASSIFY, EXPLAIN, DESCRIBE, LOCATE)]
        req.intents = [CLASSIFY, EXPLAIN, DESCRIBE, *extra]

    mentions = _emotions(text, labels)
    versus = [label for label, pos in mentions if _VERSUS_BEFORE.search(text[:pos])]
    plain = [label for label, pos in mentions if not _VERSUS_BEFORE.search(text[:pos])]
    req.emotions = list(dict.fromkeys(label for label, _ in mentions))
    req.versus = versus[0] if versus else None
    req.comparative = _comparative(text, labels)
    if req.comparative is None and plain:
        req.target = plain[0]
    if smile_emotion and not req.emotions:
        req.emotions, req.target = [_label(smile_emotion, labels)], _label(smile_emotion, labels)
    if req.comparative and req.comparative not in req.emotions:
        req.emotions.append(req.comparative)
    req.method = extract_method(text)
    req.face = _face_ref(text)
    several = _SEVERAL_FACES_RE.search(text)
    if several:
        req.faces = list(dict.fromkeys(int(d) for d in re.findall(r"\d", several.group(0))))
        if len(req.faces) > 1:
            req.face = None  # compared faces: every face is read, the answer ranks these
    req.face_emotion = _face_emotion(text) if req.face == "emotion" else None
    if req.face_emotion and req.comparative == req.face_emotion and not RANK_RE.search(text):
        req.comparative = None  # "explain the happier one": a face named by its emotion, not a ranking
        if req.target is None and req.intents != [CLASSIFY]:
            req.emotions = [e for e in req.emotions if e != req.face_emotion]
    if req.face_emotion and req.target == req.face_emotion:
        req.target = None  # "explain the smiling one" explains the prediction, not "happy" on purpose
    req.image_refs = _image_refs(text)
    than = _THAN_RE.search(text)
    if than and req.image_refs:  # "is the second photo sadder than the first?"
        word = than.group(1).lower()
        ref = _ORDINALS.get(word) or _IMAGE_WORDS.get(word)
        if ref is not None and ref not in req.image_refs:
            req.image_refs.append(ref)
    if len(req.image_refs) == 1 and re.search(r"\bthan\s+(?:the\s+|in\s+)?img\d+\b", text, re.IGNORECASE):
        req.image_refs.insert(0, "this")  # "happier than the mountain?": this photo against that one
    req.image = req.image_refs[0] if req.image_refs else None
    req.generic_one = _generic_one(text) if req.face is None and req.image is None else None
    req.generic_many = _generic_many(text) if req.face is None and req.image is None else []
    if req.generic_many:
        req.compare = True
    req.everyone = bool(EVERYONE_RE.search(text))
    req.anyone = bool(ANYONE_RE.search(text))
    req.correction = bool(CORRECTION_RE.search(text))
    if (
        not (req.emotions or req.comparative)
        and "happy" in labels
        and _KEEN_RE.search(text)
        and RANK_RE.search(text)
    ):
        req.emotions = ["happy"]  # "who looks the least into it?": ranked by the happy reading
    emotion_asked = bool(req.emotions or req.comparative)
    if (RANK_RE.search(text) and emotion_asked and req.face != "emotion") or (
        req.comparative and re.search(r"\b(?:which|who)\b", text, re.I)
    ):
        req.shape = "rank"
    elif WORD_RE.search(text):
        req.shape = "word"
    elif YESNO_ASKED_RE.search(text) or (
        parts and YESNO_RE.search(parts[0]) and not _alternatives(text, mentions)
    ):
        req.shape = "yesno"
    req.compare = bool(COMPARE_RE.search(text)) or (req.comparative is not None and "which" in text.lower())
    req.compare = req.compare or len(req.image_refs) > 1 or req.shape == "rank"
    req.follow_up = bool(FOLLOW_RE.search(text)) or req.correction
    req.emotion_only = req.intents == [CLASSIFY] and all(
        _emotion_word_only(c) for c in parts if _clause_intents(c) == [CLASSIFY]
    )
    if req.count and req.image is None and (TOTAL_RE.search(text) or _WHICH_PHOTO_RE.search(text)):
        req.image = "all"  # "how many people altogether?": every photo
    if req.compare and req.image is None:
        req.image = "all"
    wants_reading = req.compare or req.shape in ("rank", "word") or req.everyone or req.anyone
    if wants_reading and not req.intents and (emotion_asked or req.shape or req.everyone or req.compare):
        req.intents.append(CLASSIFY)
    if req.shape == "yesno" and not req.intents and emotion_asked:
        req.intents.append(CLASSIFY)
    if req.method and EXPLAIN not in req.intents:
        req.intents.append(EXPLAIN)  # naming a CAM method is asking for a heatmap
    if not req.intents:
        if HELP_RE.search(text):
            req.small_talk = "help"
        elif BYE_RE.search(text):
            req.small_talk = "bye"
        elif THANKS_RE.search(text):
            req.small_talk = "thanks"
        elif GREETING_RE.search(text):
            req.small_talk = "greeting"
    return req
