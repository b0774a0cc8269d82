"""What this product does not judge from a face, in one place: the policy, how to recognise such a
request, and how to decline it.

A face shows an expression. It does not show a person's age, gender, origin, beliefs, identity,
worth, honesty, health, character or plans, and a model that guesses them from pixels guesses
stereotypes. Every surface declines those requests with a short reason and what it can do instead:
the question answerer (``tools.vqa.FaceQA.ask``, also when BLIP is enabled — BLIP would happily
answer "how old is she?"), so the LangChain tools, the MCP server and the REST API decline them
whatever model calls them; and the chat agent, whose understanding also recognises paraphrases.

Emotion recognition is restricted by law where people cannot refuse it: the EU AI Act
(Regulation (EU) 2024/1689, Art. 5(1)(f)) prohibits it in workplaces and schools except for medical
or safety reasons. Requests to monitor employees, candidates or pupils are declined with that note.

    from tools.boundaries import check, decline_text
    found = check("how old is she?")        # Boundary(category="age", ...)
    decline_text(found.category)             # "I don't estimate age: ..."

``check`` is deliberately precise (closed vocabularies and phrases, not single ambiguous words): an
ordinary question about an expression ("does he look tired?", "is she nervous?", "how old is the
model?") must never be declined.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "Boundary",
    "CATEGORIES",
    "POLICY",
    "EXPRESSION_NOT_FEELING",
    "EU_AI_ACT_NOTE",
    "CODE_POINTER",
    "check",
    "decline_text",
    "soft_note",
]

#: One paragraph for system prompts and server instructions.
POLICY = (
    "This product reads facial expressions (an emotion with its confidence, a heatmap of why, the state "
    "of eyes, mouth, brows and head). It does not judge age, gender, ethnicity or origin, religion or "
    "sexual orientation, who a person is, attractiveness, whether someone is lying, health or "
    "mental-health conditions, personality, job, wealth or weight, or intentions: decline such requests "
    "with a short reason "
    "and offer what it can do. An expression is not a feeling: a smile can be posed. Emotion recognition "
    "in workplaces and schools is prohibited in the EU (AI Act, Art. 5(1)(f))."
)
EXPRESSION_NOT_FEELING = (
    "Note that I read facial expressions, not feelings: a smile can be posed and a calm face can hide a "
    "lot, so this says what the face shows, not what the person feels."
)
EU_AI_ACT_NOTE = (
    "Emotion recognition of employees, job candidates or pupils is prohibited in the EU under the AI Act "
    "(Art. 5(1)(f), except for medical or safety reasons), and it would be unreliable for such decisions "
    "anyway."
)
CODE_POINTER = (
    "I don't write or run code here, but everything I do is a plain Python call: `from tools import "
    'classify, explain, ask, find_faces` (see the README\'s "Use it from Python"), and the same tools are '
    "a CLI (`python -m tools classify face.jpg`), a REST API (`python -m tools serve rest`) and an MCP "
    "server (`python -m tools serve mcp`)."
)
_INSTEAD = (
    "I can read the expression (the emotion and how sure the model is), show what drove it with a "
    "heatmap, or describe the eyes, mouth, brows and head pose."
)


@dataclass(frozen=True)
class Boundary:
    """One kind of request this product declines.

    Attributes:
        category: its name (``age``, ``gender``, ``origin``, ``beliefs``, ``identity``,
            ``attractiveness``, ``deception``, ``health``, ``personality``, ``status``, ``intentions``,
            ``surveillance``, ``code``).
        reason: why it is declined, in one sentence a person reads.
        instead: what the product can do instead.
    """

    category: str
    reason: str
    instead: str = _INSTEAD

    def text(self) -> str:
        """The decline: the reason, then what can be done instead."""
        return f"{self.reason} {self.instead}".strip()

    def to_dict(self) -> dict[str, str]:
        """Plain-type view for tool artifacts and JSON."""
        return {"category": self.category, "reason": self.reason, "instead": self.instead}


CATEGORIES: dict[str, Boundary] = {
    b.category: b
    for b in (
        Boundary(
            "age",
            "I don't estimate age: apparent age from a face is unreliable and not something this product judges.",
        ),
        Boundary(
            "gender",
            "I don't judge gender: it cannot be read reliably or respectfully from a face.",
        ),
        Boundary(
            "origin",
            "I don't guess ethnicity, race, nationality or where someone is from: a face does not show it, "
            "and guessing would only repeat stereotypes.",
        ),
        Boundary(
            "beliefs",
            "I don't guess religion, sexual orientation or political views: a face does not show them.",
        ),
        Boundary(
            "identity",
            "I can't identify people or tell whether two faces are the same person: this product has no face "
            "recognition and keeps no face templates.",
        ),
        Boundary(
            "attractiveness",
            "I don't rate looks or attractiveness: that is not something a face-reading tool should score.",
        ),
        Boundary(
            "deception",
            "I can't tell whether someone is lying or faking: no reliable sign of deception shows on a "
            "face, and I read expressions, not feelings or honesty.",
        ),
        Boundary(
            "health",
            "I don't assess health or mental-health conditions (depression, anxiety, ADHD, autism, dementia, "
            "intoxication, pregnancy ...): a photo of a face cannot diagnose anything. If you're worried "
            "about someone, a doctor or a mental-health professional can help.",
        ),
        Boundary(
            "personality",
            "I don't judge personality, character, intelligence or trustworthiness from a face: faces don't "
            "show them.",
        ),
        Boundary(
            "status",
            "I don't guess someone's job, wealth, class, weight, disability or relationship status from a face: "
            "a face doesn't show them, and guessing would only repeat stereotypes.",
        ),
        Boundary(
            "intentions",
            "I can't tell what someone thinks, wants or will do: a face shows an expression, not intentions.",
        ),
        Boundary(
            "surveillance",
            "I don't monitor or score employees, job candidates or pupils. " + EU_AI_ACT_NOTE,
            "I can explain how the tool works, or read expressions in photos you choose for a demo.",
        ),
        Boundary("code", "I don't write code in this chat.", CODE_POINTER),
    )
}


def _rx(pattern: str, flags: int = 0) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE | re.VERBOSE | flags)


def _all_of(pattern: str) -> re.Pattern[str]:
    """A pattern of lookaheads (every part somewhere in one line), tried at line starts only: the
    same matches as from every position (a lookahead that holds mid-line holds from the line's
    start), without rescanning the rest of the line from each character."""
    return _rx(r"^" + pattern, re.MULTILINE)


_PERSON = r"(?:she|he|they|it|this|that|the\s+\w+(?:\s+\w+)?|this\s+\w+|that\s+\w+|her|him|them)"
_DEMONYMS = (
    "korean|japanese|chinese|vietnamese|thai|filipino|indian|pakistani|bangladeshi|arab|arabic|persian|iranian|"
    "turkish|african|nigerian|ethiopian|kenyan|egyptian|moroccan|american|mexican|latino|latina|latinx|hispanic|"
    "brazilian|argentinian|colombian|cuban|european|british|english|scottish|irish|french|german|italian|"
    "spanish|portuguese|dutch|swedish|norwegian|danish|finnish|polish|russian|ukrainian|greek|jewish|"
    "asian|caucasian|slavic|nordic|scandinavian|indigenous|aboriginal|native\\s+american|middle\\s+eastern"
)

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "surveillance",
        _all_of(r"""
        (?=.*\b(?:employees?|staff|workers?|agents?|colleagues?|co-?workers?|team(?:'s)?|workplace|office|call\s+cent(?:er|re)
              |candidates?|applicants?|interview(?:s|ee|ees)?|hiring|recruit\w*|HR\b|job\s+(?:interview|applicants?)|CV\b|résumé|resume
              |bartenders?|waiters?|waitress(?:es)?|cashiers?|drivers?|nurses|cleaners|shifts?|my\s+(?:staff|team|workers|crew)
              |students?|pupils?|class(?:room)?\b|schools?|lessons?|exams?|lectures?|kids\s+in\s+(?:the\s+)?class|standups?|meetings?
              |all-?hands)\b)
        (?=.*\b(?:monitor\w*|track\w*|flag\w*|score\w*|rate|rating|grade|grading|screen\w*|surveil\w*|watch\w*|detect\w*|spot\w*
              |measur\w*|tell\s+me\s+which|which\s+(?:of\s+)?(?:my\s+)?(?:students?|pupils?|kids|employees?|agents?|staff)|report\w*
              |see\s+who(?:'s|\s+is)|find\s+out\s+who|who(?:'s|\s+is|\s+was|\s+wasn't)\s+(?:not\s+)?(?:bored|listening|paying|engaged|stressed|nervous|lying)
              |webcams?|cameras?|recordings?|footage|hook\w*\s+it\s+up|point\s+it\s+at|run(?:ning)?\s+(?:it|this)\s+on|use\s+(?:it|this)\s+(?:on|in|for|to)
              |hire|hiring\s+(?:panel|decision)|performance\s+review)\b)
        (?=.*\b(?:engagement|engaged|bored|boredom|stressed|nervous|mood|emotions?|enthusias\w*|attenti\w*|listening|confident|lied|lying
              |motivat\w*|unmotivated|expressions?|smil\w*|happy|unhappy|feel\w*|hire|fit|performance|monitor\w*|surveil\w*|track\w*|flag\w*)\b)
        """),
    ),
    (
        "surveillance",
        _all_of(r"""
        (?=.*\b(?:job\s+)?(?:applicants?|candidates?|interviewees?)\b|.*\bjob\s+interviews?\b)
        (?=.*\b(?:nervous|anxious|stressed|confident|engaged|enthusias\w*|motivat\w*|honest|mood|emotions?|feel\w*|happy|
              unhappy|bored|interested|calm|excited|sincere|hire|hiring)\b)
        """),
    ),
    (
        "code",
        _rx(r"""
        \bwrite\s+(?:me\s+|us\s+)?(?:a\s+|an\s+|some\s+|the\s+)?(?:[\w-]+\s+){0,2}(?:code|script|function|endpoint|program|snippet|class|wrapper|api|app|integration)\b
        | \bcode\s+(?:this|it|that)\s+up\b | \b(?:give|show|send)\s+me\s+(?:the\s+|some\s+|a\s+)?(?:[\w+#.-]+\s+)?(?:code|script|snippet)\b
        | \b(?:give|show|send)\s+me\s+(?:some\s+)?(?:python|javascript|js|typescript|java|c\+\+|bash|shell|pytorch)\b
        | \b(?:code|write|generate|create|make)\s+(?:me\s+)?(?:a\s+|an\s+|some\s+)?(?:[\w-]+\s+)?(?:script|program|one-?liner|snippet|notebook)\b | \bjupyter\b | \b(?:bash|shell|python)\s+one-?liner\b
        | \b(?:implement|build)\s+(?:me\s+)?(?:a\s+|an\s+)?(?:fastapi|flask|django|rest|http)\s+(?:endpoint|api|server|app)\b
        """),
    ),
    (
        "age",
        _rx(
            r"""
        \b(?:how|hw|hiw|hoe)\s+old\b(?!\s+(?:is|was)\s+(?:the|this|your)\s+(?:model|software|app|classifier|network|version|code|dataset|photo|picture|image|tool))
        | \bwhat\s+(?:is\s+(?:her|his|their)\s+)?age\b | \bage\s+(?:range|group|bracket|estimate)\b | \b(?:estimate|guess|predict|tell)\w*\s+(?:\w+\s+){0,3}ages?\b
        | \b(?:her|his|their|everyone'?s|each\s+person'?s|the\s+\w+'s)\s+ages?\b | \bold\s+enough\b | \bunder\s*-?\s*age\b | \bminors?\b
        | \b(?:over|under|above|below)\s+(?:\d{2}|eighteen|twenty[\s-]?one|sixteen|thirty|forty|fifty|sixty)\b(?!\s*(?:%|percent|per\s+cent|px|pixels|frames|seconds|s\b|mb|kb)) | \b(?:is|are|looks?|look\s+like|about|around|under|over|at\s+least|older\s+than|younger\s+than)\s+(?:\w+\s+){0,2}\d{1,2}\s*(?:years?\s+old|yo)\b
        | \babout\s+\d{2}\b(?!\s*%) | \bin\s+(?:her|his|their)\s+(?:teens|twenties|thirties|forties|fifties|sixties|\d0s)\b | \bdecade\s+of\s+(?:life|age)\b | \b(?:is|are|r)\s+(?:they|she|he|we|these|those|both|everyone|everybody|all|this\s+\w+|that\s+\w+)\s+(?:all\s+|both\s+)?(?:an\s+adult|adults|grown[\s-]?ups?|of\s+(?:legal\s+)?age)\b | \bwhich\s+decade\b
        | \b(?:is|are)\s+"""
            + _PERSON
            + r"""\s+(?:an?\s+)?(?:teen(?:ager)?|adult|minor)\b | \bwho\s+is\s+(?:the\s+)?(?:older|oldest|younger|youngest)\b
        | \b(?:what|which)\s+year\s+(?:\w+\s+){0,3}born\b | \bwhen\s+was\s+(?:\w+\s+){0,3}born\b | \bbirth\s*(?:year|date)\b | \bdate\s+of\s+birth\b
        | \b(?:youngest|oldest)\b(?!\s+(?:photo|picture|pic|image|video|clip|file|upload|one\s+of\s+the\s+(?:photos|pictures|videos)))(?=.*\b(?:who|person|people|friends?|girls?|boys?|guys?|women|men|kids?|ladies|lady|man|woman|of\s+(?:them|these|the\s+\w+)|she|he)\b)
        | \b(?:who|which\s+(?:person|one|girl|boy|guy|woman|man|friend|kid)|which\s+of\s+(?:them|the\s+\w+(?:\s+\w+)?))\b(?:\s+\w+){0,4}\s+(?:is|looks?)\s+(?:the\s+)?(?:youngest|oldest|younger|older)\b
        """
        ),
    ),
    (
        "gender",
        _rx(
            r"""
        \bgenders?\b | \b(?:girls?|boys?|men|women|males?|females?|guys?)\s+(?:vs\.?|versus)\s+(?:girls?|boys?|men|women|males?|females?|guys?)\b
        | \b(?:how\s+many|count)\s+(?:\w+\s+)?(?:girls?|boys?|men|women|males?|females?)\s+(?:and|or)\s+(?:how\s+many\s+)?(?:girls?|boys?|men|women|males?|females?)\b | \bmales?\b(?=.*\bfemales?\b) | \b(?:masculine|feminine|manly|girly|effeminate)\b | \b(?:actually|really)\s+(?:all\s+)?(?:women|men|girls|boys)\b | \b(?:boy|girl|man|woman|male|female|guy|lady)\s+or\s+(?:a\s+)?(?:boy|girl|man|woman|male|female|guy|lady)\b
        | \b(?:actually|really|biologically)\s+(?:a\s+)?(?:woman|man|girl|boy|female|male)\b | \btrans(?:gender)?\b | \bnon-?binary\b
        | \b(?:is|are)\s+"""
            + _PERSON
            + r"""\s+(?:a\s+)?(?:male|female)\b | \bwhat\s+sex\b
        """
        ),
    ),
    (
        "origin",
        _rx(
            r"""
        \bethnic\w* | \bnationalit\w* | \brac(?:e|es|ial)\b(?!\s+(?:car|track|day)) | \bmixed[\s-]+race\b | \bancestry\b | \bheritage\b
        | \bwhere\s+(?:is|are|'s)\s+"""
            + _PERSON
            + r"""\s+(?:originally\s+|really\s+)?from\b | \bwhich\s+country\b | \bwhat\s+country\b
        | \bcountry\s+(?:is|are|am)\s+\w+\s+from\b | \bfrom\s+around\s+here\b | \bimmigrants?\b | \bforeigners?\b | \bskin\s+colou?r\b
        | \b(?:is|are|looks?|looking|seem\w*)\s+(?:"""
            + _PERSON
            + r"""\s+)?(?:more\s+)?(?:"""
            + _DEMONYMS
            + r""")\b
        | \b(?:"""
            + _DEMONYMS
            + r""")\s+or\s+(?:"""
            + _DEMONYMS
            + r""")\b
        | \bhow\s+many\s+(?:\w+\s+){0,3}(?:are|r|look|looks)\s+(?:black|white|asian|hispanic|latin[oa]s?|brown|arab)\b
        | \b(?:black|white|asian|hispanic|brown)\s+(?:people|ppl|persons|guys|women|men|girls|boys|folks)\b
        """
        ),
    ),
    (
        "beliefs",
        _rx(
            r"""
        \breligio\w* | \b(?:muslim|christian|jewish|hindu|buddhist|atheist|catholic|sikh)\b | \bgay\b | \blesbian\b | \bbisexual\b
        | \bsexual(?:ity|\s+orientation)\b | \bqueer\b | \binto\s+(?:women|men|girls|guys|boys|ladies|dudes)\b | \bpolitical\s+(?:views?|leanings?|party|affiliation|beliefs?|opinions?|side|persuasion)\b
        | \bpolitics\b | \bpolitically\b | \bvote[sd]?\s+for\b
        | \b(?:is|are)\s+(?!(?:it|that|this)\s+straight\b)(?!(?:\w+\s+){0,3}(?:head|face|mouth|teeth|back|posture|nose|line|smile|brows?|eyebrows?|hair|neck|photo|picture|image|camera|horizon)\b)(?:\w+\s+){1,4}straight\s*(?:\?|$|or\s+(?:gay|not|bi))
        | \bstraight\s+or\s+(?:gay|not)\b | \b(?:liberal|conservative|republican|democrat|left-wing|right-wing)\b
        | \bwho\s+(?:did|does|would|will)\s+\w+\s+vote\b
        """
        ),
    ),
    (
        "identity",
        _rx(r"""
        \bwho\s+(?:is|'s|are)\s+(?:this|that|he|she|it|they|these|those)\b(?!\s+(?:looking|smiling|feeling|happiest|saddest|more|most|less|least))
        | \bwho(?:'s|\s+is)\s+(?:this|that)\s+(?:guy|man|woman|girl|lady|person|boy|dude)\b | \bwhat(?:'s|\s+is)\s+(?:her|his|their|the\s+\w+'s)\s+name\b
        | \bidentify\s+(?:her|him|them|this\s+person|the\s+person|who|people)\b
        | \bconfirm\s+(?:(?:that\s+)?it'?s|that'?s|this\s+is|if\s+(?:it'?s|this\s+is)|whether\s+(?:it'?s|this\s+is))\s+(?:really\s+)?(?:her|him|them|my|the\s+same)\b | \b(?:tell|give)\s+me\s+(?:the\s+|her\s+|his\s+|their\s+)?names?\b
        | \bname\s+of\s+(?:the|this|that)\s+(?:woman|man|person|girl|boy|guy|lady|people|kid)\b
        | \bfind\s+(?:other\s+|more\s+)?(?:pictures|photos|images|videos)\s+of\s+(?:her|him|them|this|that)\b | \bon\s+the\s+internet\b | \brecogni[sz]e\s+(?:her|him|them|this\s+person|who)\b
        | \b(?:same|different)\s+(?:person|guy|man|woman|girl|lady|people)\b
        | \b(?:are|is)\s+(?:\w+\s+){0,5}(?:sisters|brothers|siblings|twins|related|relatives|cousins|family|mother\s+and\s+(?:daughter|son)|father\s+and\s+(?:son|daughter))\b
        | \b(?:sisters|brothers|siblings|twins|related|relatives|cousins)\s*\? | \blook\s+alike\b | \bresembl\w*
        | \bwho\s+(?:she|he|they)\s+(?:is|are|was|were)\b
        | \brecogni[sz]e\s+(?:any(?:body|one)|some(?:body|one)|any\s+of\s+them|people|faces?\s+here)\b | \bcelebrit\w* | \bmy\s+ex\b | \bmy\s+ex-?(?:boyfriend|girlfriend|husband|wife|partner)\b | \bcelebs?\b | \blook\s+up\s+(?:her|his|their|the)\s+names?\b | \blook-?alike\b | \bfamous\s+(?:person|people|actor|actress)\b
        | \b(?:instagram|facebook|tiktok|linkedin|twitter|social\s+media|profile)\b(?=.*\b(?:find|search|look\s+up|who)\b)
        | \b(?:find|search|look\s+up)\b(?=.*\b(?:instagram|facebook|tiktok|linkedin|twitter|social\s+media|profile|online)\b)
        | \b(?:find|search|look\s+up)\s+(?:her|him|them|this\s+person)\s+(?:online|on)\b | \bface\s+recognition\s+on\b
        | \bis\s+(?:this|that|he|she|it)\s+(?-i:[A-Z][a-z]+\s+[A-Z][a-z]+)
        """),
    ),
    (
        "attractiveness",
        _rx(r"""
        \battractive\w* | \bphotogenic\b | \bmodel(?:l)?ing\s+agenc\w* | \bprett(?:ier|iest)\b | \bpretty\b(?=\s*(?:[?.!,;]|$)|\s+(?:or\s+not|or\s+ugly|and\s+(?:young|hot|sexy|cute)|girl|woman|lady|face|one|enough|to\s+(?:you|me)|in\s+(?:this|that|the))) | \bbeautiful\b | \bbeauty\b
        | \bhandsome\w* | \bsexy\b | \bcute(?:st|r)?\b | \bgood[\s-]looking\b | \bugl(?:y|ier|iest)\b | \bgorgeous\b | \bhot(?:ter|test)?\b(?!\s*[-\s]?spots?)(?![\s-]+(?:map|area|region|zone))
        | \brate\s+(?:\w+\s+){0,3}looks\b | \blook\s+(?:better|worse|nicer|younger|older)\s+(?:if|with|without)\b | \bbetter[\s-]looking\b
        | \b(?:nice|good|bad|clear|perfect|flawless)\s+skin\b | \bskin\s+(?:is\s+)?(?:nice|good|bad|clear|perfect|flawless)\b
        | \bshould\s+(?:she|he|they)\s+(?:wear|be\s+wearing|put\s+on)\s+(?:more\s+|less\s+)?make-?up\b | \b(?:her|his|their|each\s+\w+'s)\s+looks\b | \bout\s+of\s+(?:10|ten)\b | \b\d+\s*-\s*10\b | \bdateable\b
        """),
    ),
    (
        "deception",
        _rx(r"""
        \blying\b(?!\s+(?:down|around|there|flat|back|under|beside|next|asleep|still|face\s+(?:down|up)
            |on\s+(?:the|a|his|her|their)\s+(?:ground|floor|grass|bed|sofa|couch|beach|back|side|stomach|sand)
            |in\s+(?:the\s+|a\s+)?(?:grass|bed|sun|sand|snow|water|field|park|hospital|hammock|pool|mud|trench|street))) | \bliars?\b | \blies\b | \b(?:dis)?honest(?:y)?\s+with\b | \bdishonest\w* | \b(?:in)?sincer\w* | \bguilty\b
        | \blie[\s-]?detector\w* | \bpolygraph\w* | \bcheating\s+on\b | \bcheats?\s+on\b | \bis\s+(?:that|this|it)\s+(?:smile\s+)?a\s+lie\b | \btell(?:ing)?\s+the\s+truth\b | \btruthful\w*
        | \bhonest(?:ly)?\s+(?:or|person|with)\b | \bdeceiv\w* | \bdeception\b | \bdeceptive\b | \bfaking\b | \bpretending\b
        | \bhiding\s+(?:something|anything|the\s+truth|her\s+feelings|his\s+feelings)\b | \blie\s+detect\w*
        """),
    ),
    (
        "health",
        _rx(
            r"""
        \bdepress(?:ed|ion|ive)\b | \banxiety\s+disorders?\b | \b(?:an\s+)?anxiety\s+(?:problem|issues?)\b | \badhd\b | \badd\b(?=\s*\?) | \bautis\w* | \basperger\w*
        | \bbipolar\b | \bshell[\s-]?shock\w* | \btrauma(?:tised|tized|tic)?\b | \bpsychos?\b | \bpatients?\b(?=.*\b(?:pain|hurt\w*|suffer\w*|symptoms?|ill|sick|condition)\b) | \banorexi\w* | \bbulimi\w* | \bdementia\b | \balzheimer\w* | \bstroke\b | \bschizo\w* | \bpsychopath\w* | \bsociopath\w* | \bnarcissis\w*
        | \bmental(?:ly)?\s+(?:ill\w*|health|disorder|condition|problem)\b | \bdisorders?\b | \bdiseases?\b | \bdiagnos\w* | \bsymptoms?\b
        | \b(?:is|are|was)\s+"""
            + _PERSON
            + r"""\s+(?:sick|ill|unwell|drunk|high|stoned|intoxicated|pregnant|on\s+drugs)\b
        | \b(?:she|he|they)(?:'s|'re|\s+is|\s+are)\s+(?:sick|ill|unwell|drunk|high|stoned|intoxicated|pregnant|on\s+drugs)\b(?!\s+of\b)
        | \b(?:look|looks|seem|seems)\s+(?:\w+\s+)?(?:sick|ill|unwell|drunk|stoned|intoxicated|pregnant)\b(?!\s+of\b) | \bdrunk\b | \bpregnan\w*
        | \bon\s+drugs\b | \bon\s+(?:her|his|their)\s+period\b | \bmenstruat\w* | \bmenopaus\w* | \bmedical\s+condition\b | \bsyndrome\b | \bpalsy\b | \bptsd\b | \bocd\b | \bsuicid\w* | \beating\s+disorder\b
        """
        ),
    ),
    (
        "personality",
        _rx(r"""
        \bpersonalit\w* | \bintrovert\w* | \bextrovert\w* | \btrust(?:worthy|worthiness)?\b(?!\s+(?:the\s+)?(?:model|results?|figures?|numbers?|heatmap|it|this\s+tool))
        | \bintelligen\w* | \b(?:how\s+)?(?:smart|clever|dumb|stupid)\b | \biq\b | \bcriminal\w* | \bshady\b | \bdangerous\b
        | \bgood\s+(?:employee|worker|hire|fit|leader|parent|partner|person|boyfriend|girlfriend|husband|wife)\b | \bleader\s+type\b | \bleadership\b
        | \bb[\*i]tch\w* | \bjerk\b | \basshole\b | \barrogant\b | \bcharacter\b | \bbossy\b | \bbully\b | \blazy\b | \bselfish\b | \bmean\s+(?:one|girl|person)\b | \bsnob\w* | \bnice\s+person\b | \bkind\s+of\s+person\b | \bwhat\s+(?:is|'s)\s+(?:she|he)\s+like\s+as\s+a\s+person\b
        """),
    ),
    (
        "status",
        _rx(
            r"""
        \b(?:is|are|was)\s+"""
            + _PERSON
            + r"""\s+(?:rich|wealthy|poor|homeless|broke|fat|overweight|obese|underweight|disabled)\b
        | \b(?:look|looks|looking|seem|seems)\s+(?:\w+\s+)?(?:fat|overweight|obese|underweight|skinny|chubby|heavy)\b(?![\s-]*(?:hearted|lidded)) | \bweight\b(?!\s*(?:s\b|file|s\s+file))
        | \b(?:middle|working|upper|lower)[\s-]class\b | \bsocial\s+class\b
        | \bwhat(?:'s|\s+is|\s+does)\s+(?:her|his|their|she|he|they)\s+(?:job|profession|occupation|do\s+for\s+(?:a\s+)?living)\b
        | \bhow\s+much\s+(?:does|do)\s+(?:she|he|they)\s+(?:weigh|earn|make)\b
        | \b(?:most|more|least|looks?|is|are)\s+(?:\w+\s+)?(?:single|married|divorced|taken)\b | \bin\s+a\s+relationship\b | \bhas\s+a\s+(?:boy|girl)friend\b | \bdisabilit\w* | \bhandicapped\b
        """
        ),
    ),
    (
        "intentions",
        _rx(r"""
        \b(?:going|planning|plans?|intend\w*|about)\s+to\s+(?:do|hurt|attack|kill|steal|buy|leave|say|cheat|hit|punch|fight|slap|harm|shoot|stab|seduce)\b
        | \b(?:is|are|was)\s+(?:she|he|they|(?:the\s+)?\w+(?:\s+\w+)?)\s+planning\b(?!\s+(?:a|an|the|my|our)\s+(?:lesson|class|talk|shoot|project|presentation|trip|party))
        | \bintention\w* | \bplotting\b | \bup\s+to\s+something\b | \bscheming\b | \bmeans?\s+well\b | \bup\s+to\s+no\s+good\b | \btrying\s+to\s+(?:seduce|trick|manipulate|scam|steal|hurt|attack|hit|pick\s+up|get\s+with)\b | \bseduc\w*
        | \bwould\s+(?:she|he|they|this\s+\w+|that\s+\w+)\s+(?:steal|cheat|lie|hurt|attack|rob|betray|kill)\b
        | \bwhat(?:'s|\s+is)\s+(?:she|he|they)\s+(?:planning|going\s+to\s+do|up\s+to)\b | \bdo\s+next\b | \b(?:want|wants|into|like|likes)\s+me\b
        | \bflirt\w* | \bhit\s+on\b | \bsay\s+yes\b | \bask(?:ed)?\s+(?:her|him|them)\s+out\b | \b(?:likely|going)\s+to\s+buy\b | \bbuy\s+(?:the|our|this)\s+product\b
        | \bpurchas\w* | \bmeans?\s+(?:any\s+|no\s+|some\s+)?harm\b | \bharmful\s+intent\w* | \bthreat(?:en\w*)?\s+to\b | \bhurt\s+(?:someone|somebody|anyone|people|me)\b
        """),
    ),
)

_SOFT_NOTE = _rx(r"""
    \b(?:really|truly|genuinely|actually|secretly)\s+(?:happy|sad|angry|feeling|upset|scared|surprised|enjoying)\b | \bfake\s+smile\b
    | \b(?:real|genuine|posed|forced|duchenne)\s+smile\b | \bwhat\s+(?:is|'s)\s+(?:she|he|they)\s+thinking\b | \bthinking\s+(?:something|about)\b
    | \binner\s+feelings?\b | \bdeep\s+down\b
""")


# "Is the heatmap trustworthy?" asks about the product, not a person's character.
_ABOUT_THE_PRODUCT = re.compile(
    r"\b(?:heat\s*maps?|maps?|model|results?|readings?|classifier|explanations?|figures?|numbers?|percent\w*|scores?|"
    r"tool|app|answers?|predictions?|this\s+thing)\b[^.?!]{0,25}\btrust|\btrust\w*\s+(?:the|this|your|its)\s+"
    r"(?:heat\s*map|map|model|results?|readings?|classifier|explanation|figures?|numbers?|answers?|predictions?|tool|app)\b",
    re.IGNORECASE,
)


# "Is that heatmap faithful, or just pretty?" judges the explanation, not a face.
_ABOUT_A_PICTURE = re.compile(
    r"\b(?:heat\s*maps?|maps?|charts?|graphs?|plots?|explanations?|visuali[sz]ations?|overlays?|colou?rs?|cams?)\b",
    re.IGNORECASE,
)


def check(text: str) -> Boundary | None:
    """The boundary a request crosses, or None for an ordinary request.

    Args:
        text: a user message or a question about a face.

    Returns:
        The first matching ``Boundary`` (workplace and school monitoring first, so its decline carries
        the EU AI Act note), or None.
    """
    text = " ".join(str(text).split())
    if not text:
        return None
    for category, pattern in _PATTERNS:
        if pattern.search(text):
            if category == "personality" and _ABOUT_THE_PRODUCT.search(text):
                continue
            if category == "attractiveness" and _ABOUT_A_PICTURE.search(text):
                continue
            return CATEGORIES[category]
    return None


def decline_text(category: str) -> str:
    """The decline of one category: its reason, then what the product can do instead."""
    return CATEGORIES[category].text()


def soft_note(text: str) -> str | None:
    """The "an expression is not a feeling" note for questions that ask what is felt behind a face
    ("is he really happy?", "is that a fake smile?") — answered, with the note — or None."""
    return EXPRESSION_NOT_FEELING if _SOFT_NOTE.search(" ".join(str(text).split())) else None
