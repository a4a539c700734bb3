"""The prompt bank for text-to-image backends: portraits and people in scenes, drawn from a sample's seed.

Attributes are varied independently (age, gender, ethnicity, expression, lighting, lens, setting, framing)
so that a dataset's generated faces do not all look alike; the prompt and its attributes go into the record.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

TYPE = "generation"  # what every text-to-image backend makes (its module imports TYPE and ROLES from here)
ROLES: list = []  # text-to-image draws no source

AGES = [("8-year-old", "child"), ("14-year-old", "teen"), ("19-year-old", "adult"), ("24-year-old", "adult"),
        ("30-year-old", "adult"), ("37-year-old", "adult"), ("45-year-old", "adult"), ("52-year-old", "adult"),
        ("60-year-old", "adult"), ("68-year-old", "adult"), ("77-year-old", "adult"), ("85-year-old", "adult")]
GENDERS = {"child": ["girl", "boy"], "teen": ["girl", "boy"], "adult": ["woman", "man"]}
ETHNICITIES = ["East Asian", "South Asian", "Southeast Asian", "Black African", "African American", "White European",
               "Latin American", "Middle Eastern", "North African", "Indigenous American", "Pacific Islander",
               "Central Asian", "mixed-race"]
EXPRESSIONS = ["a neutral expression", "a slight smile", "a broad smile", "an open-mouthed laugh", "a serious look",
               "a surprised look", "a thoughtful look", "lips parted mid-sentence", "a frown", "raised eyebrows",
               "half-closed eyes", "a tired look"]
LIGHTING = ["soft window light", "harsh midday sun", "golden hour backlight", "overcast daylight",
            "fluorescent office lighting", "studio softbox lighting", "neon light at night", "warm lamp light",
            "ring light", "dim indoor light", "flash photography", "light from a computer screen"]
LENSES = ["85mm f/1.8 portrait lens", "50mm lens", "35mm wide-angle lens", "smartphone front camera",
          "laptop webcam", "135mm telephoto lens", "DSLR kit zoom", "35mm film camera", "action camera",
          "security camera"]
BACKGROUNDS = ["a plain grey backdrop", "a blurred living room", "a brick wall", "a bookshelf", "green foliage",
               "a white wall", "a car interior", "a kitchen", "an office", "a city skyline", "a hallway",
               "a studio backdrop"]
SETTINGS = ["at a kitchen table", "on a busy city street", "in an office meeting room", "in a park",
            "at a train station", "in a classroom", "at home on a video call", "in a cafe", "on a beach",
            "in a supermarket aisle", "at a wedding reception", "in a gym", "at a bus stop in the rain",
            "on a news studio set", "at a market stall", "in a hospital corridor"]
ACTIVITIES = ["talking to someone off camera", "looking at the camera", "reading a phone", "walking",
              "holding a coffee cup", "giving a presentation", "listening", "waving"]
PORTRAIT_STYLES = ["a photo", "a candid photo", "a close-up portrait photo", "a head-and-shoulders photo",
                   "a passport-style photo", "a still from a vlog", "a still from a TV interview", "a selfie"]
SCENE_SHARE = 0.35
SALT_PROMPT = 7  # the prompt's stream, apart from the backend's own draws from the sample seed


@dataclass
class Prompt:
    """A prompt and the attributes it was built from."""

    text: str
    kind: str  # portrait | scene
    age: str
    gender: str
    ethnicity: str
    expression: str
    lighting: str
    lens: str
    place: str

    def attributes(self) -> dict:
        d = asdict(self)
        d.pop("text")
        return d


def sample(seed: int) -> Prompt:
    """The prompt of a sample: a pure function of its seed."""
    rng = np.random.default_rng([int(seed), SALT_PROMPT])

    def pick(options):
        return options[int(rng.integers(len(options)))]

    age, stage = pick(AGES)
    gender, ethnicity = pick(GENDERS[stage]), pick(ETHNICITIES)
    expression, lighting, lens = pick(EXPRESSIONS), pick(LIGHTING), pick(LENSES)
    subject = f"a {age} {ethnicity} {gender}"
    kind = "scene" if rng.random() < SCENE_SHARE else "portrait"
    if kind == "scene":
        place = pick(SETTINGS)
        text = (f"a photo of {subject} {pick(ACTIVITIES)} {place}, face clearly visible, with {expression}, "
                f"{lighting}, shot on a {lens}, realistic, natural skin texture")
    else:
        place, style = pick(BACKGROUNDS), pick(PORTRAIT_STYLES)
        text = (f"{style} of {subject} with {expression}, in front of {place}, {lighting}, "
                f"shot on a {lens}, realistic, natural skin texture")
    return Prompt(text, kind, age, gender, ethnicity, expression, lighting, lens, place)
