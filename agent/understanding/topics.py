"""Questions about the product itself: which topic a message asks about.

``TOPIC_PATTERNS`` are the closed phrases of each topic, used as features by the learned classifier
(``nlu``), which decides whether a message is a product question at all and which topic it is;
``topic_of`` is the rule reading of the older topics (the model, labels, compound labels, Grad-CAM,
faithfulness, an emotion's meaning), kept for messages the classifier leaves uncertain.
``emotion_terms`` lists the emotions a "what does X mean?" question names.

Topics: ``model``, ``accuracy``, ``scope`` (what it can read: dogs, children, glasses, black and
white, bias), ``privacy``, ``offline`` (internet, CPU), ``formats``, ``live`` (the camera page),
``api`` (Python, CLI, REST, MCP), ``methods`` (the CAM methods), ``gradcam``, ``faithfulness``,
``compound``, ``emotion`` (what an emotion looks like), ``labels``, ``legal`` (the EU AI Act),
``expression`` (an expression is not a feeling: posed and felt smiles).
"""

from __future__ import annotations

import re

__all__ = ["TOPICS", "TOPIC_PATTERNS", "topic_of", "emotion_terms", "PERSONAL"]

TOPICS = (
    "model",
    "accuracy",
    "scope",
    "privacy",
    "offline",
    "formats",
    "live",
    "api",
    "methods",
    "gradcam",
    "faithfulness",
    "compound",
    "emotion",
    "labels",
    "legal",
    "expression",
)


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE | re.VERBOSE)


PERSONAL = _rx(r"""
    \b(?:she|he|her|him|his|hers|they|them|their)\b | \b(?:this\s+(?:person|face|woman|man|photo|picture|image|pic)
    | the\s+(?:person|face|woman|man|photo|picture|image|lady|guy)\b(?!\s+(?:model|classifier)) | face\s*\d | photo\s*\d
    | img\d | in\s+the\s+(?:photo|picture|image))
""")
_DEFINE = _rx(r"""
    \bmean(?:s|ing|t)?\b | \bdefin(?:e|ition)\b | ^\W*(?:so\s+|and\s+|ok\s+)?(?:what|what's|whats)\s+(?:is|are|'s)?\s*(?:a\s+|an\s+|the\s+)?
    | \bdifference\s+between\b | \bhow\s+(?:does|do|is|are)\b.*\bwork | \bhow\s+(?:do|does|did)\s+(?:you|it|the\s+\w+)\s+(?:measure|compute|calculate|work\s+out|decide)
    | \bexplain\s+what\b | \btell\s+me\s+about\b | \bhow\s+(?:would|should|do|can|could)\s+i\s+explain\s+(?:that|this|it|\w+)\s+to\b | \bwhat\s+does\s+.*\b(?:show|tell|say)\b | \bhow\s+(?:exactly\s+)?is\s+(?:that\s+|the\s+|this\s+)?\w+\s+(?:computed|calculated|measured|made)
""")
_GRADCAM = _rx(
    r"\b(?:grad|score|eigen|layer|hires|xgrad|ablation|eigengrad)[\s-]*cam | \bcam\b | \bheat[\s-]*maps? | \bsaliency | \bfull[\s-]*grad"
)
_FAITH = _rx(r"\bfaithful")
_METHODS_COMPARED = _rx(
    r"\bdifference\s+between\s+(?:the\s+|those\s+|these\s+|both\s+)?(?:two\s+)?(?:cam\s+|heatmap\s+)?(?:methods|cams|techniques|approaches|algorithms)\b"
    r"|\bhow\s+(?:do|does)\s+(?:those|these|the)\s+(?:two\s+)?(?:cam\s+|heatmap\s+)?(?:methods|techniques|algorithms)\s+differ\b"
)
_MODEL = _rx(r"""
    \b(?:which|what)\s+(?:emotion\s+)?(?:model|classifier|network|neural\s+net)s?\b | \btrained\s+on\b
    | \b(?:training\s+)?(?:data\s*set|dataset|training\s+data)\b | \bmodels?\s+(?:is|are)\s+(?:loaded|used|running)\b
    | \b(?:model|classifier)\s+(?:do\s+you|are\s+you)\s+(?:use|using|run|running)\b | \bwhich\s+model\b | \barchitecture\b
""")
_ACCURACY = _rx(r"""
    \baccura\w* | \bhow\s+(?:good|reliable|precise|trustworthy|correct|right|well)\s+(?:is|are)\s+(?:the\s+|your\s+|this\s+)?(?:model|classifier|network|it|you|thing|app|tool|results?|predictions?)
    | \breliab\w* | \berror\s+rate | \bhow\s+often\s+(?:is\s+it|are\s+you|does\s+it)\s+(?:wrong|right) | \bcan\s+i\s+trust\s+(?:it|the|this|you|these)
    | \bbenchmark\w* | \bf1\b | \bprecision\b | \bhow\s+(?:sure|confident)\s+can\s+i\s+be
""")
_LABELS = _rx(r"""
    \b(?:which|what)\s+(?:emotions|labels|classes|expressions|categories)\s+(?:can|could|does|do|will)\s+(?:the\s+|your\s+|this\s+)?
        (?:model|classifier|network|you|it|app|system)\s+(?:predict|recogni[sz]e|detect|know|tell\s+apart|read|classify|distinguish|output|handle)
    | \bbasic\s+emotions\b | \blist\s+(?:the\s+|all\s+(?:the\s+)?)?(?:emotions|labels|classes)\b | \bwhat\s+(?:labels|classes)\b
    | \b(?:labels|classes|categories|emotion\s+names)\s+mean\b | \bhow\s+many\s+emotions\b
""")
_COMPOUND = _rx(r"\bcompound\b | \bderived\b")
_SCOPE = _rx(r"""
    \b(?:dogs?|cats?|pets?|animals?|cartoons?|drawings?|paintings?|anime|emoji|statues?|dolls?|babies|baby|toddlers?|children|kids)\b
    | \bblack[\s-]+and[\s-]+white\b | \bb\s*&\s*w\b | \bgr[ae]yscale\b | \b(?:wearing\s+)?(?:glasses|sunglasses|masks?|beards?|hats?)\b.*\b(?:work|problem|affect|matter|ok|fine|handle)
    | \bskin\s+tones?\b | \bdarker\s+skin\b | \bbias(?:ed)?\b | \bfair(?:ness)?\b | \bprofiles?\b | \bside\s+view | \bocclu\w* | \blow\s+light
    | \bdoes\s+it\s+work\s+(?:on|with|for)\b | \bcan\s+(?:it|the\s+model|you)\s+(?:read|do|handle|work\s+with|analy[sz]e)\s+(?!this|that|the\s+photo|her|his|it\b)
""")
_PRIVACY = _rx(r"""
    \bprivacy\b | \bprivate\b | \b(?:stored|store|storing|saved?|saving|kept|keep|retain\w*|delet\w*|gone)\b.*\b(?:photos?|pics?|pictures?|images?|data|videos?|face|uploads?)\b
    | \b(?:photos?|pics?|pictures?|images?|data|videos?|uploads?)\b.*\b(?:stored|saved|kept|go|sent|shared|uploaded|used\s+to\s+train|deleted|gone)\b
    | \bsent\s+(?:to|anywhere) | \bcloud\b | \bthird\s+part(?:y|ies)\b | \bgdpr\b | \bface\s+templates?\b | \bbiometric\b | \bclose\s+the\s+tab\b
    | \brecogni[sz]e\s+me\b | \btrain\s+(?:the\s+|your\s+)?model\s+on\s+(?:my|our)\b
""")
_OFFLINE = _rx(r"""
    \boffline\b | \binternet\b | \bnetwork\s+connection\b | \bonline\b(?!\s+(?:profile|search)) | \b(?:cpu|gpu|laptop|raspberry|hardware|ram|memory)\b
    | \bhow\s+fast\b | \bspeed\b | \blatency\b | \brun\s+(?:it\s+)?locally\b | \bon\s+my\s+(?:machine|computer|laptop)\b
""")
_FORMATS = _rx(r"""
    \bformats?\b | \bfile\s+types?\b | \b(?:mp4|mov|webm|mkv|avi|jpe?g|png|webp|heic|gif)\b.*\?(?!.*\b(?:feeling|emotion|smil)) | \bfile\s+size\b | \bsize\s+limit\b
    | \bhow\s+(?:big|large|long)\s+(?:can|may)\b | \bmax(?:imum)?\s+(?:size|length|duration)\b | \bwhat\s+(?:kind|type)s?\s+of\s+(?:files?|videos?|photos?|images?)\b
""")
_LIVE = _rx(r"""
    \bwebcam\b | \blive\b | \breal[\s-]*time\b | \bcamera\b(?!\s+(?:angle|flash)) | \bstream\w* | \bsend\s+(?:a\s+|the\s+)?frame\b
""")
_API = _rx(r"""
    \bapi\b | \bpython\b | \bcli\b | \bcommand[\s-]+line\b | \brest\b(?!\s+of) | \bmcp\b | \bendpoints?\b | \bintegrat\w* | \bsdk\b | \blibrary\b | \bimport\b
    | \bprogrammatic\w* | \bbatch\b | \bui\s+only\b | \bcurl\b | \bkiosk\b | \bscript\b
""")
_METHODS = _rx(r"""
    \b(?:which|what)\s+(?:cam\s+|heat\s*map\s+|explanation\s+|explainability\s+)?(?:methods|techniques|variants|algorithms)\b | \bcam\s+methods\b
    | \bmethods?\s+(?:are\s+)?(?:supported|available)\b | \blist\s+(?:the\s+)?(?:cam\s+)?methods\b
""")
_EMOTION_MEANING = _rx(r"""
    \bwhat\s+does\s+(?:an?\s+)?\w+\s+(?:face\s+)?look\s+like\b | \bhow\s+(?:do\s+you|does\s+(?:the\s+model|it|one))\s+(?:recogni[sz]e|spot|tell|detect)\s+\w+
    | \bsigns?\s+of\b | \bwhich\s+(?:facial\s+)?(?:regions|parts|features|muscles)\b.*\b(?:for|of|matter|show)\b | \bwhat\s+(?:is|are)\s+(?:the\s+)?(?:typical|usual)\b
""")
_LEGAL = _rx(r"""
    \blegal\b | \blaw\b | \bai\s+act\b | \bregulat\w* | \ballowed\s+(?:to|in)\b | \bgdpr\b | \beu\b | \bbanned\b | \bprohibit\w* | \bcompliant\b
""")
_EXPRESSION = _rx(r"""
    \bposed\b | \bspontaneous\b | \bgenuine\b | \bfake\s+smile | \bduchenne\b | \breal\s+(?:smile|emotion|feeling)s?\b
    | \bexpressions?\s+(?:vs\.?|versus|and|or)\s+(?:feelings?|emotions?)\b | \b(?:feel|feeling|feelings)\s+(?:vs\.?|versus)\b | \binner\s+feelings?\b
    | \bcan\s+(?:it|you|the\s+model)\s+(?:tell|know|read)\s+(?:what\s+)?(?:someone|people|a\s+person)\s+(?:really\s+)?feel
""")

TOPIC_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("model", _MODEL),
    ("accuracy", _ACCURACY),
    ("scope", _SCOPE),
    ("privacy", _PRIVACY),
    ("offline", _OFFLINE),
    ("formats", _FORMATS),
    ("live", _LIVE),
    ("api", _API),
    ("methods", _METHODS),
    ("gradcam", _GRADCAM),
    ("faithfulness", _FAITH),
    ("compound", _COMPOUND),
    ("emotion", _EMOTION_MEANING),
    ("labels", _LABELS),
    ("legal", _LEGAL),
    ("expression", _EXPRESSION),
    ("define", _DEFINE),
)
_EMOTION = _rx(r"""
    \b(?:(happily|sadly|fearfully|angrily|disgustedly|surprisedly)[\s_-]+([a-z]+)|(contempt|anger|angry|disgust|
    disgusted|fear|fearful|happiness|happy|sadness|sad|surprise|surprised|neutral))\b
""")


def emotion_terms(text: str) -> list[str]:
    """The emotion names in a question about emotions ("what does happily surprised mean?")."""
    return list(dict.fromkeys(" ".join(m.group(0).lower().split()) for m in _EMOTION.finditer(text)))


def topic_of(text: str) -> str | None:
    """The product topic of a question by rules, or None (the older topics only).

    Returns ``model``, ``labels``, ``faithfulness``, ``gradcam``, ``compound`` or ``emotion:<words>``
    (the emotions named, comma-separated). A question that refers to a person in a photo is never one.
    """
    if PERSONAL.search(text):
        return None
    if _MODEL.search(text):
        return "model"
    if _LABELS.search(text):
        return "labels"
    if _METHODS_COMPARED.search(text):
        return "methods"
    if not _DEFINE.search(text):
        return None
    if _FAITH.search(text):
        return "faithfulness"
    if _GRADCAM.search(text):
        return "gradcam"
    emotions = emotion_terms(text)
    if emotions and re.search(
        r"\bmean|\bdefin|\bdifference|^\W*(?:what|what's|whats)\s+(?:is|are)\b|\bhow\s+(?:would|should|do|can|could)\s+i\s+explain\b",
        text,
        re.I,
    ):
        return "emotion:" + ",".join(emotions)
    if re.search(r"\bcompound\b", text, re.I):
        return "compound"
    return None
