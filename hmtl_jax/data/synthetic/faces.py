"""The embedded data set: synthetic faces for AffectNet's 8 expression classes, drawn on demand.

Why synthetic: there is no redistributable expression data set, and the demo must run with no download. To be a fair
miniature of AffectNet rather than a toy, the class lives in small facial parts (mouth corners and opening, brows,
eye openness, creases) while identity, pose, light, background, occlusion and camera degradations carry most of the
pixel variance: a linear model on raw pixels does poorly, a small CNN can learn it.

A Grain random-access source: record `i` of a split is a pure function of (seed, split, i), so any size is free, the
order can be shuffled and resumed, and worker processes can render in parallel. Train and validation draw from
different random streams and never share a face. Every difficulty knob is here: `Difficulty` (intensity, pose,
light, clutter, occlusion, camera), `PART_SIZES` (how big the class-carrying parts are) and `ACTION_UNITS` /
`VARIANTS` (what each expression does at full intensity).

Calibration (64 px, 12k train, balanced 2k validation): multinomial logistic regression on raw pixels stays near
chance (`python -m hmtl_jax.data.synthetic.linear_probe`), while resnet_tiny trained from scratch with flips only
(configs/demo.py's recipe) passes 80 % in about six epochs; neutral vs contempt (one raised lip corner) stays the
hardest pair, as in AffectNet.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from hmtl_jax.data.affectnet_labels import AFFECTNET8_TRAIN_COUNTS, CLASS_NAMES
from hmtl_jax.data.synthetic import renderer as fr

# Each split its own random stream: test faces are independent of the validation faces settings are chosen on.
SPLITS = {"train": 0, "validation": 1, "test": 2}
_IMAGE_STREAM, _LABEL_STREAM = 0x1A6E, 0x1AB3  # first word of the seed: images and labels never share a stream


@dataclasses.dataclass(frozen=True)
class Difficulty:
    """Every magnitude range of the generator, in one place. Face units: the face is about 2 units tall.

    To make the task easier for a CNN, raise `expression_gain` or `part_scale` first, then `strong_intensity` and
    `scale`; lower the camera degradations last (each of intensity, pose+scale and degradations+occlusion cost
    10-20 points of validation accuracy when they were switched on one at a time from an easy setting).
    """

    # Expression strength. Neutral is 0; other classes draw from `strong_intensity`, except a `weak_fraction`
    # drawn from `weak_intensity`: those sit close to neutral and are the genuinely ambiguous minority.
    weak_fraction: float = 0.1
    weak_intensity: tuple[float, float] = (0.2, 0.65)
    strong_intensity: tuple[float, float] = (0.65, 1.0)
    # Each action unit of an expression is multiplied by U(1 - jitter, 1 + jitter): no two smiles are the same.
    action_unit_jitter: float = 0.3
    # The two main levers of how visible the class is: `expression_gain` multiplies every action unit of
    # ACTION_UNITS, `part_scale` the size of the parts that carry them (PART_SIZES: mouth, lips, eyes, brows).
    expression_gain: float = 1.0
    part_scale: float = 1.0
    # Resting faces differ (a natural down-turned mouth, a slanted brow, wide eyes): sigmas of those offsets.
    rest_corner: float = 0.015
    rest_brow: float = 0.02
    rest_eye_open: float = 0.12
    rest_parted_lips: float = 0.15  # probability that a face at rest has slightly parted lips
    # Head pose, degrees: (sigma, limit) of a normal clipped at +-limit. Most faces are near frontal, as in
    # AffectNet, with a tail out to the limits.
    roll: tuple[float, float] = (10.0, 25.0)
    yaw: tuple[float, float] = (15.0, 35.0)
    pitch: tuple[float, float] = (8.0, 20.0)
    scale: tuple[float, float] = (0.28, 0.35)  # one face unit as a fraction of the image side
    shift: float = 0.07  # face centre offset, fraction of the image side, uniform in +-shift on each axis
    # Light.
    ambient: tuple[float, float] = (0.55, 1.25)
    light_gradient: tuple[float, float] = (0.0, 0.45)  # brightness slope across the image
    face_shading: tuple[float, float] = (0.0, 0.35)  # extra slope across the face (side light)
    colour_cast: float = 0.15  # per-channel gain in 1 +- cast
    # Background clutter.
    clutter_shapes: tuple[int, int] = (1, 6)
    stripes_probability: float = 0.35
    # Accessories and occlusion.
    glasses_probability: float = 0.18
    occlusion_probability: float = 0.15
    # Camera and compression. Blur radius is in pixels of a 64 px image and scales with the image size.
    blur_probability: float = 0.3
    blur_radius_at_64: tuple[float, float] = (0.3, 0.8)
    noise_probability: float = 0.4
    noise_sigma: tuple[float, float] = (0.005, 0.035)
    jpeg_probability: float = 0.3
    jpeg_quality: tuple[int, int] = (30, 85)
    greyscale_probability: float = 0.1


DIFFICULTY = Difficulty()

# Sizes of the parts that carry the class (face units, uniform ranges), before `Difficulty.part_scale`.
PART_SIZES: dict[str, tuple[float, float]] = {
    "eye_w": (0.145, 0.19),  # eye half-width
    "eye_h": (0.078, 0.1),  # eye half-height at rest
    "brow_thick_male": (0.066, 0.1),
    "brow_thick_female": (0.05, 0.078),
    "mouth_w": (0.34, 0.43),  # mouth half-width at rest
    "lip_upper": (0.042, 0.072),
    "lip_lower": (0.054, 0.09),
}

# Each class as action units at full intensity. Geometric units are in face units (corner raise, opening, brow
# moves) or relative (stretch, eye_open); crease, teeth and press units are visibilities that saturate at 1, so
# 2.0 means "fully visible from intensity 0.5". Sign conventions are those of `face_renderer.Expression`;
# `corner` moves both lip corners, `corner_one` and `dimple` one random side. Intensity scales every value
# linearly from the resting face.
ACTION_UNITS: dict[int, dict[str, float]] = {
    0: {},
    1: dict(corner=0.3, stretch=0.2, eye_open=-0.6, smile_lines=2.0),
    2: dict(corner=-0.24, brow_inner=0.26, eye_open=-0.35, stretch=-0.15, press=0.5),
    3: dict(mouth_open=0.5, stretch=-0.45, brow_raise=0.26, eye_open=1.2),
    4: dict(
        mouth_open=0.3,
        stretch=0.5,
        corner=-0.1,
        brow_raise=0.14,
        brow_inner=0.2,
        eye_open=1.1,
        teeth=2.0,
        lower_teeth=2.0,
    ),
    5: dict(
        upper_lip=0.16,
        mouth_open=0.06,
        teeth=2.0,
        corner=-0.1,
        nose_wrinkle=2.0,
        eye_open=-0.6,
        brow_inner=-0.1,
        brow_raise=-0.06,
        smile_lines=1.6,
    ),
    6: dict(brow_inner=-0.28, brow_raise=-0.12, eye_open=-0.45, furrow=2.0, press=1.5, stretch=-0.2, corner=-0.04),
    7: dict(corner_one=0.45, corner=-0.05, dimple=2.0, press=0.6),
}
# Alternative forms of a class, with their probability: replacements for some action units of the main form.
VARIANTS: dict[int, tuple[float, dict[str, float]]] = {
    1: (0.6, dict(mouth_open=0.22, teeth=2.0)),  # open smile showing the teeth
    4: (0.4, dict(lower_teeth=0.0)),
    6: (0.35, dict(press=0.0, stretch=0.2, mouth_open=0.14, teeth=2.0, lower_teeth=2.0, upper_lip=0.06)),  # bared
}
STRETCH_LIMITS = (-0.55, 0.8)  # mouth width factor stays in [0.45, 1.8]: an O, not a slit

SKIN_RAMP = np.array(  # skin_tone 0 -> 1: very dark to very light
    [(0.24, 0.15, 0.10), (0.45, 0.30, 0.20), (0.70, 0.50, 0.37), (0.87, 0.68, 0.56), (0.98, 0.86, 0.78)], np.float32
)
HAIR_COLOURS = np.array(
    [
        (0.06, 0.05, 0.05),
        (0.2, 0.12, 0.07),
        (0.38, 0.24, 0.13),
        (0.8, 0.66, 0.4),
        (0.55, 0.22, 0.1),
        (0.62, 0.62, 0.6),
        (0.88, 0.88, 0.86),
    ],
    np.float32,
)
HAIR_WEIGHTS = np.array([0.3, 0.25, 0.17, 0.12, 0.06, 0.06, 0.04])
IRIS_COLOURS = np.array(
    [(0.3, 0.18, 0.08), (0.12, 0.08, 0.05), (0.3, 0.45, 0.62), (0.3, 0.45, 0.3), (0.45, 0.35, 0.2)], np.float32
)
HAIR_STYLES = ("bald", "buzz", "short", "medium", "long", "puffy")
HAIR_STYLE_WEIGHTS = {1: (0.15, 0.2, 0.4, 0.15, 0.05, 0.05), 0: (0.01, 0.03, 0.16, 0.3, 0.4, 0.1)}  # by `male`
BEARDS = ("none", "stubble", "full", "goatee")
BEARD_WEIGHTS = (0.5, 0.2, 0.18, 0.12)  # men only


def _colour(rng: np.random.Generator, low: float = 0.0, high: float = 1.0) -> fr.Colour:
    return tuple(float(c) for c in rng.uniform(low, high, 3))


def sample_intensity(rng: np.random.Generator, label: int, d: Difficulty) -> float:
    if label == 0:
        return 0.0
    return float(rng.uniform(*(d.weak_intensity if rng.random() < d.weak_fraction else d.strong_intensity)))


def _identity(rng: np.random.Generator, male: bool, skin_tone: float, d: Difficulty) -> fr.Identity:
    u = rng.uniform

    def part(name: str) -> float:
        return d.part_scale * u(*PART_SIZES[name])

    skin = np.array([np.interp(skin_tone, np.linspace(0, 1, len(SKIN_RAMP)), SKIN_RAMP[:, c]) for c in range(3)])
    skin = np.clip(skin * (1.0 + u(-0.05, 0.05, 3)), 0.0, 1.0)
    hair = HAIR_COLOURS[rng.choice(len(HAIR_COLOURS), p=HAIR_WEIGHTS)] * u(0.85, 1.15)
    if rng.random() < 0.04:  # dyed
        hair = rng.uniform(0.1, 0.9, 3)
    brows = 0.45 * hair + 0.55 * np.array([0.1, 0.07, 0.05]) * u(0.7, 1.3)
    lips = skin * np.array([0.82, 0.6, 0.6]) * u(0.85, 1.05)
    if not male and rng.random() < 0.25:  # lipstick
        lips = np.array([u(0.5, 0.8), u(0.08, 0.2), u(0.12, 0.3)])
    style = HAIR_STYLES[rng.choice(len(HAIR_STYLES), p=HAIR_STYLE_WEIGHTS[int(male)])]
    volume = {
        "bald": 0.0,
        "buzz": 0.02,
        "short": u(0.04, 0.1),
        "medium": u(0.08, 0.18),
        "long": u(0.08, 0.2),
        "puffy": u(0.25, 0.45),
    }[style]
    length = u(1.2, 2.0) if style == "long" else u(0.1, 0.5) if style == "medium" else 0.0
    beard = BEARDS[rng.choice(len(BEARDS), p=BEARD_WEIGHTS)] if male else "none"
    eye_v = u(-0.16, -0.04)
    nose_v = eye_v + u(0.32, 0.42)
    glasses = None
    if rng.random() < d.glasses_probability:
        glasses = _colour(rng, 0.0, 0.35) if rng.random() < 0.6 else _colour(rng, 0.2, 0.9)
    return fr.Identity(
        face_w=u(0.8, 0.95) if male else u(0.74, 0.88),
        face_h=u(1.02, 1.2),
        jaw=u(0.05, 0.25) if male else u(0.2, 0.4),
        skin=tuple(skin),
        lips=tuple(np.clip(lips, 0, 1)),
        hair=tuple(np.clip(hair, 0, 1)),
        brows=tuple(np.clip(brows, 0, 1)),
        iris=tuple(IRIS_COLOURS[rng.integers(len(IRIS_COLOURS))]),
        clothes=_colour(rng),
        hair_style=style,
        hairline=u(-0.95, -0.62),
        temples=u(0.1, 0.45) if male else u(0.0, 0.2),
        parting=u(-0.15, 0.15),
        hair_volume=volume,
        hair_length=length,
        beard=beard,
        beard_alpha=u(0.25, 0.45) if beard == "stubble" else u(0.75, 0.95),
        moustache=male and rng.random() < (0.7 if beard == "full" else 0.15),
        eye_sep=u(0.3, 0.4),
        eye_v=eye_v,
        eye_w=part("eye_w"),
        eye_h=part("eye_h"),
        brow_gap=u(0.17, 0.24),
        brow_thick=part("brow_thick_male" if male else "brow_thick_female"),
        brow_len=u(0.26, 0.34),
        nose_v=nose_v,
        nose_w=u(0.09, 0.14),
        mouth_v=nose_v + u(0.24, 0.32),
        mouth_w=part("mouth_w"),
        lip_upper=part("lip_upper"),
        lip_lower=part("lip_lower"),
        skin_lines=u(0.0, 0.35),
        glasses=glasses,
        glasses_round=bool(rng.random() < 0.5),
        lens_tint=u(0.0, 0.25),
    )


def _expression(rng: np.random.Generator, label: int, intensity: float, d: Difficulty) -> fr.Expression:
    units = dict(ACTION_UNITS[label])
    if label in VARIANTS and rng.random() < VARIANTS[label][0]:
        units.update(VARIANTS[label][1])
    gain = intensity * d.expression_gain
    units = {k: a * gain * rng.uniform(1 - d.action_unit_jitter, 1 + d.action_unit_jitter) for k, a in units.items()}
    side = rng.integers(2)  # which lip corner contempt raises
    corner_one, dimple = units.pop("corner_one", 0.0), units.pop("dimple", 0.0)
    corner = units.pop("corner", 0.0) + rng.normal(0.0, d.rest_corner)
    skew = rng.normal(0.0, d.rest_corner / 3)
    rest_open = rng.uniform(0.01, 0.04) if rng.random() < d.rest_parted_lips else 0.0
    for key in ("press", "teeth", "lower_teeth", "nose_wrinkle", "furrow", "smile_lines"):
        if key in units:
            units[key] = min(units[key], 1.0)
    if "stretch" in units:
        units["stretch"] = float(np.clip(units["stretch"], *STRETCH_LIMITS))
    return fr.Expression(
        corner_left=corner + skew + corner_one * (side == 0),
        corner_right=corner - skew + corner_one * (side == 1),
        dimple_left=min(dimple, 1.0) * (side == 0),
        dimple_right=min(dimple, 1.0) * (side == 1),
        mouth_open=units.pop("mouth_open", 0.0) + rest_open,
        brow_inner=units.pop("brow_inner", 0.0) + rng.normal(0.0, d.rest_brow),
        brow_raise=units.pop("brow_raise", 0.0) + rng.normal(0.0, d.rest_brow),
        eye_open=units.pop("eye_open", 0.0) + rng.normal(0.0, d.rest_eye_open),
        gaze=(float(rng.uniform(-1, 1)), float(rng.uniform(-1, 1))),
        **units,
    )


def _occluder(rng: np.random.Generator, idn: fr.Identity, ex: fr.Expression) -> fr.Shape:
    """A hand or object over one region; each placement leaves most of the expression visible."""
    u = rng.uniform
    side = rng.choice((-1.0, 1.0))
    place = rng.integers(4)
    if place == 0:  # one eye and brow
        radii = (u(0.22, 0.32), u(0.22, 0.32))
        centre = (side * (idn.eye_sep + 0.05), idn.eye_v - 0.05)
    elif place == 1:  # one cheek and the jaw, outside the mouth corner
        radii = (u(0.2, 0.3), u(0.3, 0.45))
        centre = (side * u(0.78, 0.92), idn.mouth_v - 0.1)
    elif place == 2:  # chin, below the lower lip whatever the mouth does
        radii = (u(0.35, 0.55), u(0.18, 0.28))
        lip_bottom = idn.mouth_v + 0.6 * ex.mouth_open + idn.lip_lower
        centre = (u(-0.2, 0.2), lip_bottom + 0.06 + radii[1])
    else:  # forehead, above the brows even when raised
        radii = (u(0.4, 0.6), u(0.15, 0.25))
        centre = (u(-0.2, 0.2), idn.eye_v - idn.brow_gap - max(ex.brow_raise, 0.0) - 0.1 - radii[1])
    # Wide chin and forehead shapes stay nearly level: tilted, their ends would reach the mouth or the brows.
    angle = u(-0.15, 0.15) if place >= 2 else u(-0.6, 0.6)
    if rng.random() < 0.5:  # a hand: skin of any tone, finger stripes
        tone = float(rng.uniform())
        colour = tuple(np.interp(tone, np.linspace(0, 1, len(SKIN_RAMP)), SKIN_RAMP[:, c]) for c in range(3))
        return fr.Shape("ellipse", centre, radii, angle, colour, 1.0, stripes=u(6.0, 9.0))
    stripes = u(3.0, 12.0) if rng.random() < 0.5 else 0.0
    return fr.Shape("rect", centre, radii, angle, _colour(rng), 1.0, stripes=stripes)


def _clutter(rng: np.random.Generator) -> fr.Shape:
    u = rng.uniform
    kind = ("ellipse", "rect", "bar")[rng.integers(3)]
    radii = (u(0.2, 0.6), u(0.01, 0.04)) if kind == "bar" else (u(0.05, 0.35), u(0.05, 0.35))
    stripes = u(3.0, 12.0) if rng.random() < 0.3 else 0.0
    return fr.Shape(kind, (u(-0.5, 0.5), u(-0.5, 0.5)), radii, u(0, math.pi), _colour(rng), u(0.5, 1.0), stripes)


def _scene(rng: np.random.Generator, idn, ex, size: int, d: Difficulty) -> fr.Scene:
    u = rng.uniform
    stripes = None
    if rng.random() < d.stripes_probability:
        stripes = (u(2.0, 10.0), u(0, math.pi), u(0, 2 * math.pi), _colour(rng), u(0.2, 0.6))
    clutter = tuple(_clutter(rng) for _ in range(rng.integers(d.clutter_shapes[0], d.clutter_shapes[1] + 1)))
    occluder = _occluder(rng, idn, ex) if rng.random() < d.occlusion_probability else None
    return fr.Scene(
        background=(_colour(rng, 0.0, u(0.3, 1.0)), _colour(rng, 0.0, u(0.3, 1.0))),
        background_angle=u(0, 2 * math.pi),
        stripes=stripes,
        clutter=clutter,
        occluder=occluder,
        ambient=u(*d.ambient),
        light_angle=u(0, 2 * math.pi),
        light_gradient=u(*d.light_gradient),
        face_shading=u(*d.face_shading),
        cast=tuple(1.0 + u(-d.colour_cast, d.colour_cast, 3)),
        blur=u(*d.blur_radius_at_64) * size / 64 if rng.random() < d.blur_probability else 0.0,
        noise=u(*d.noise_sigma) if rng.random() < d.noise_probability else 0.0,
        noise_seed=int(rng.integers(2**31)),
        jpeg_quality=int(rng.integers(*d.jpeg_quality, endpoint=True)) if rng.random() < d.jpeg_probability else 0,
        greyscale=bool(rng.random() < d.greyscale_probability),
    )


def sample_face(rng: np.random.Generator, label: int, size: int, d: Difficulty | None = None):
    """(FaceSpec, latent factors) for one face of class `label`; `d` defaults to the module's DIFFICULTY."""
    d = d or DIFFICULTY
    u = rng.uniform
    intensity = sample_intensity(rng, label, d)
    male = bool(rng.random() < 0.5)  # drawn independently of the label: an identity attribute, not an expression
    skin_tone = float(rng.uniform())
    idn = _identity(rng, male, skin_tone, d)
    ex = _expression(rng, label, intensity, d)
    roll, yaw, pitch = (float(np.clip(rng.normal(0.0, sd), -limit, limit)) for sd, limit in (d.roll, d.yaw, d.pitch))
    pose = fr.Pose(
        roll=roll, yaw=yaw, pitch=pitch, scale=u(*d.scale), shift=(u(-d.shift, d.shift), u(-d.shift, d.shift))
    )
    scene = _scene(rng, idn, ex, size, d)
    latents = {
        "yaw": np.float32(pose.yaw),
        "pitch": np.float32(pose.pitch),
        "roll": np.float32(pose.roll),
        "intensity": np.float32(intensity),
        "male": np.int32(male),
        "skin_tone": np.float32(skin_tone),
        "has_glasses": np.int32(idn.glasses is not None),
        "occluded": np.int32(scene.occluder is not None),
    }
    return fr.FaceSpec(pose, idn, ex, scene), latents


def _balanced_labels(rng: np.random.Generator, n: int) -> np.ndarray:
    """Every block of 8 consecutive records holds each class once, in a random order: exactly balanced for n % 8 == 0
    and off by at most one otherwise. The stream is read block by block, so a smaller set is a prefix of a larger."""
    blocks = math.ceil(n / len(CLASS_NAMES))
    return np.argsort(rng.random((blocks, len(CLASS_NAMES))), axis=1).ravel()[:n]


def _long_tailed_labels(rng: np.random.Generator, n: int) -> np.ndarray:
    """AffectNet-8 train proportions, stratified: a golden-ratio sequence through the inverse CDF keeps every prefix
    within a record or two of the target counts, even for the rare classes at small n."""
    counts = np.asarray(AFFECTNET8_TRAIN_COUNTS, np.float64)
    points = (rng.random() + np.arange(n) * ((math.sqrt(5) - 1) / 2)) % 1.0
    return np.searchsorted(np.cumsum(counts) / counts.sum(), points, side="right")


class SyntheticFaces:
    """`source[i] -> {'image': uint8 (S, S, 3), 'label': int32, 'yaw', 'pitch', 'roll', 'intensity', 'male',
    'skin_tone', 'has_glasses', 'occluded'}`.

    Validation and test are exactly balanced; train is balanced too, or follows AffectNet-8's long-tailed train
    distribution with `long_tailed=True`. Holds only its arguments and the label array: picklable, stateless, any size.
    """

    def __init__(
        self,
        split: str,
        num_records: int,
        image_size: int = 64,
        seed: int = 0,
        long_tailed: bool = False,
        difficulty: Difficulty | None = None,
    ):
        if split not in SPLITS:
            raise ValueError(f"split must be one of {tuple(SPLITS)}, got {split!r}")
        if int(num_records) < 1:
            raise ValueError(f"num_records must be at least 1, got {num_records}")
        if int(image_size) < 32:
            raise ValueError(f"image_size must be at least 32 pixels, got {image_size}")
        if int(seed) < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed}")
        if long_tailed and split != "train":
            raise ValueError("long_tailed applies to the train split only; validation and test are always balanced")
        self.split, self.num_records, self.image_size = split, int(num_records), int(image_size)
        self.seed, self.long_tailed = int(seed), bool(long_tailed)
        self.difficulty = difficulty or DIFFICULTY  # bound now: a pickled copy renders the same faces
        rng = np.random.default_rng([_LABEL_STREAM, self.seed, SPLITS[split]])
        labels = _long_tailed_labels(rng, self.num_records) if long_tailed else _balanced_labels(rng, self.num_records)
        self._labels = labels.astype(np.int32)

    def __len__(self) -> int:
        return self.num_records

    def labels(self) -> np.ndarray:
        """All labels, without rendering an image (for class weights and balanced sampling)."""
        return self._labels.copy()

    def __getitem__(self, index: int) -> dict:
        index = int(index)
        if not 0 <= index < self.num_records:
            raise IndexError(f"index {index} out of range for {self.num_records} records")
        rng = np.random.default_rng([_IMAGE_STREAM, self.seed, SPLITS[self.split], index])
        label = int(self._labels[index])
        face, latents = sample_face(rng, label, self.image_size, self.difficulty)
        return {"image": fr.render(face, self.image_size), "label": np.int32(label), **latents}

    def __repr__(self) -> str:
        return (
            f"SyntheticFaces(split={self.split!r}, num_records={self.num_records}, image_size={self.image_size}, "
            f"seed={self.seed}, long_tailed={self.long_tailed})"
        )
