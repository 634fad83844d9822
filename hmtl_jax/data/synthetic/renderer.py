"""Draw one synthetic face from explicit parameters. No randomness here: `synthetic_faces` samples the parameters.

Why analytic shapes on a coordinate grid rather than a drawing library: every part is a soft-edged shape evaluated
on face-frame coordinates after the inverse head pose, so roll, yaw, pitch, scale and shift move every part
consistently at any resolution, and a one-pixel soft edge anti-aliases for free. Each part is evaluated only inside
its own pixel box, which keeps a 64 px face around a millisecond.

Coordinate frames (face units: the face is about 2 units tall, +v points down, +u to the image right):
  image   x, y in [-0.5, 0.5], fractions of the image side;
  plane   the head's picture plane: image coordinates with shift, scale and roll undone (outline, hair, ears);
  surface the skin: plane coordinates with yaw and pitch undone on a cylinder, so features foreshorten and slide
          as the head turns (eyes, brows, nose, mouth, beard, glasses).
"""

from __future__ import annotations

import dataclasses
import io
import math

import numpy as np
from PIL import Image, ImageFilter

Colour = tuple[float, float, float]

# Yaw and pitch rotate the surface on cylinders of these radii (relative to face half-width / half-height). Larger
# than the face itself because a face is flatter than a cylinder: features slide less than on a tight one.
YAW_CYLINDER = 1.15
PITCH_CYLINDER = 1.6
NOSE_DEPTH = 0.22  # how far the nose stands out of the surface: it slides this much further with yaw and pitch


@dataclasses.dataclass(frozen=True)
class Pose:
    roll: float  # degrees, positive turns the head clockwise in the image
    yaw: float  # degrees, positive turns the face so its features move to the image right
    pitch: float  # degrees, positive tips the face down (features move down)
    scale: float  # one face unit as a fraction of the image side
    shift: tuple[float, float]  # face centre offset from the image centre, fractions of the side (x, y)


@dataclasses.dataclass(frozen=True)
class Identity:
    """Who the person is: everything that stays when the expression changes."""

    face_w: float  # half-width of the face outline
    face_h: float  # half-height of the face outline
    jaw: float  # how much the outline narrows towards the chin (0 = ellipse)
    skin: Colour
    lips: Colour
    hair: Colour
    brows: Colour
    iris: Colour
    clothes: Colour
    hair_style: str  # bald | buzz | short | medium | long | puffy
    hairline: float  # surface v of the hairline at the centre of the forehead
    temples: float  # how far the hairline recedes at the temples
    parting: float  # tilt of the hairline (side parting)
    hair_volume: float  # how far hair stands off the head
    hair_length: float  # plane v where long hair ends
    beard: str  # none | stubble | goatee | full
    beard_alpha: float
    moustache: bool
    eye_sep: float  # half the distance between the eye centres
    eye_v: float
    eye_w: float  # eye half-width
    eye_h: float  # eye half-height at rest
    brow_gap: float  # eye centre to brow, at rest
    brow_thick: float
    brow_len: float
    nose_v: float
    nose_w: float
    mouth_v: float
    mouth_w: float  # mouth half-width at rest
    lip_upper: float  # lip thicknesses
    lip_lower: float
    skin_lines: float  # resting depth of nasolabial folds (age)
    glasses: Colour | None  # frame colour, or no glasses
    glasses_round: bool
    lens_tint: float


@dataclasses.dataclass(frozen=True)
class Expression:
    """Action-unit values of this face, already scaled by intensity and added to the person's resting face."""

    corner_left: float = 0.0  # lip-corner raise (+ up), face units, image-left corner
    corner_right: float = 0.0
    mouth_open: float = 0.0  # vertical lip gap at the centre
    stretch: float = 0.0  # relative change of mouth width (+ stretched, - puckered into an O)
    upper_lip: float = 0.0  # upper-lip raise (disgust)
    press: float = 0.0  # lip thinning, 0..1
    teeth: float = 0.0  # visibility of the teeth in the opening, 0..1
    lower_teeth: float = 0.0
    dimple_left: float = 0.0  # one-sided tightening crease next to the corner (contempt), 0..1
    dimple_right: float = 0.0
    brow_inner: float = 0.0  # inner brow ends up (+) or down into a V (-)
    brow_raise: float = 0.0  # both brow ends up (+) or down (-)
    eye_open: float = 0.0  # relative eye-opening change (+ wide, - squint)
    nose_wrinkle: float = 0.0  # 0..1
    furrow: float = 0.0  # vertical lines between the brows, 0..1
    smile_lines: float = 0.0  # extra nasolabial-fold depth, 0..1
    gaze: tuple[float, float] = (0.0, 0.0)  # iris offset, fractions of the eye size


@dataclasses.dataclass(frozen=True)
class Shape:
    """One flat shape (background clutter or occluder)."""

    kind: str  # ellipse | rect | bar
    centre: tuple[float, float]
    radii: tuple[float, float]
    angle: float  # radians
    colour: Colour
    alpha: float
    stripes: float = 0.0  # stripe frequency across the shape (0 = plain); texture makes it less blob-like


@dataclasses.dataclass(frozen=True)
class Scene:
    """Everything around and over the face: background, occluder, light and camera degradations."""

    background: tuple[Colour, Colour]  # gradient end colours
    background_angle: float  # radians
    stripes: tuple[float, float, float, Colour, float] | None  # frequency, angle, phase, colour, alpha
    clutter: tuple[Shape, ...]  # image coordinates
    occluder: Shape | None  # surface centre / plane radii, face units
    ambient: float  # overall light level
    light_angle: float  # radians, direction the light comes from
    light_gradient: float  # brightness slope across the image
    face_shading: float  # extra light slope across the face
    cast: Colour  # per-channel colour gains
    blur: float  # Gaussian blur radius in pixels at this image size (0 = none)
    noise: float  # Gaussian noise sigma, fraction of full scale
    noise_seed: int
    jpeg_quality: int  # 0 = no JPEG round trip
    greyscale: bool


@dataclasses.dataclass(frozen=True)
class FaceSpec:
    pose: Pose
    identity: Identity
    expression: Expression
    scene: Scene


# ----------------------------------------------------------------------------------------------------------------
# Shape primitives: signed distances (negative inside) in face units, turned into coverage by `_soft`.


def _soft(d: np.ndarray, px: float) -> np.ndarray:
    """Coverage of a pixel by a shape whose signed distance is d: a one-pixel ramp across the edge."""
    return np.clip(0.5 - d / px, 0.0, 1.0)


def _ellipse_d(u: np.ndarray, v: np.ndarray, cu: float, cv: float, a: float, b: float, angle: float = 0.0):
    du, dv = u - cu, v - cv
    if angle:
        c, s = math.cos(angle), math.sin(angle)
        du, dv = c * du + s * dv, -s * du + c * dv
    # Not an exact distance (it is compressed along the long axis) but smooth and cheap; edges stay about 1 px.
    return (np.sqrt((du / a) ** 2 + (dv / b) ** 2) - 1.0) * min(a, b)


def _rect_d(u: np.ndarray, v: np.ndarray, cu: float, cv: float, a: float, b: float, angle: float = 0.0):
    du, dv = u - cu, v - cv
    if angle:
        c, s = math.cos(angle), math.sin(angle)
        du, dv = c * du + s * dv, -s * du + c * dv
    return np.maximum(np.abs(du) - a, np.abs(dv) - b)


def _segments_d(u: np.ndarray, v: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Distance to the nearest of K segments (starts, ends: (K, 2)); all segments in one broadcast."""
    ab = ends - starts
    du = u[..., None] - starts[:, 0]
    dv = v[..., None] - starts[:, 1]
    t = np.clip((du * ab[:, 0] + dv * ab[:, 1]) / np.maximum((ab**2).sum(1), 1e-9), 0.0, 1.0)
    ex, ey = du - t * ab[:, 0], dv - t * ab[:, 1]
    return np.sqrt((ex * ex + ey * ey).min(-1))


def _polyline(points) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(points, np.float32)
    return p[:-1], p[1:]


def _curl(t: float, radius: float, angle: float) -> float:
    """Surface coordinate -> plane coordinate on a cylinder turned by `angle` (radians)."""
    theta = math.asin(max(-1.0, min(1.0, t / radius))) + angle
    return radius * math.sin(max(-math.pi / 2, min(math.pi / 2, theta)))


def _uncurl(p: np.ndarray, radius: float, angle: float) -> np.ndarray:
    theta = np.arcsin(np.clip(p / radius, -1.0, 1.0)) - angle
    return radius * np.sin(np.clip(theta, -np.pi / 2, np.pi / 2))


class _Canvas:
    """The RGB float image plus, per pixel, its coordinates in the three frames."""

    def __init__(self, size: int, pose: Pose, identity: Identity):
        self.size = size
        self.rgb = np.zeros((size, size, 3), np.float32)
        grid = (np.arange(size, dtype=np.float32) + 0.5) / size - 0.5
        self.x, self.y = np.meshgrid(grid, grid)
        self.roll, self.yaw, self.pitch = (math.radians(a) for a in (pose.roll, pose.yaw, pose.pitch))
        self.cos, self.sin = math.cos(self.roll), math.sin(self.roll)
        self.scale = pose.scale
        self.cx, self.cy = pose.shift
        self.px = 1.0 / (pose.scale * size)  # one pixel in face units: the width of every soft edge
        dx, dy = (self.x - self.cx) / self.scale, (self.y - self.cy) / self.scale
        self.pu = self.cos * dx + self.sin * dy
        self.pv = -self.sin * dx + self.cos * dy
        self.yaw_r = YAW_CYLINDER * identity.face_w
        self.pitch_r = PITCH_CYLINDER * identity.face_h
        self.su = _uncurl(self.pu, self.yaw_r, self.yaw)
        self.sv = _uncurl(self.pv, self.pitch_r, self.pitch)

    def box(self, u: float, v: float, radius: float, frame: str = "surface"):
        """Pixel slices covering a disc of `radius` around (u, v) in `frame`, or None if it is off the image."""
        if frame == "surface":
            u, v = _curl(u, self.yaw_r, self.yaw), _curl(v, self.pitch_r, self.pitch)
        if frame == "image":
            x, y, r = u, v, radius
        else:
            x = self.cx + self.scale * (self.cos * u - self.sin * v)
            y = self.cy + self.scale * (self.sin * u + self.cos * v)
            r = radius * self.scale
        col, row, r = (x + 0.5) * self.size - 0.5, (y + 0.5) * self.size - 0.5, r * self.size * 1.3 + 2.0
        r0, r1 = max(0, int(row - r)), min(self.size, int(row + r) + 2)
        c0, c1 = max(0, int(col - r)), min(self.size, int(col + r) + 2)
        if r0 >= r1 or c0 >= c1:
            return None
        return slice(r0, r1), slice(c0, c1)

    def coords(self, box, frame: str = "surface") -> tuple[np.ndarray, np.ndarray]:
        if frame == "surface":
            return self.su[box], self.sv[box]
        if frame == "plane":
            return self.pu[box], self.pv[box]
        return self.x[box], self.y[box]

    def paint(self, box, alpha: np.ndarray, colour) -> None:
        region = self.rgb[box]
        region += alpha[..., None] * (np.asarray(colour, np.float32) - region)


def _scaled(colour: Colour, gain: float | tuple[float, float, float]) -> np.ndarray:
    return np.clip(np.asarray(colour, np.float32) * np.asarray(gain, np.float32), 0.0, 1.0)


# ----------------------------------------------------------------------------------------------------------------
# Scene parts, in drawing order.


def _draw_shape(canvas: _Canvas, shape: Shape, frame: str, centre: tuple[float, float]) -> None:
    box = canvas.box(centre[0], centre[1], max(shape.radii), frame)
    if box is None:
        return
    u, v = canvas.coords(box, frame)
    px = 1.0 / canvas.size if frame == "image" else canvas.px
    a, b = shape.radii
    if shape.kind == "ellipse":
        d = _ellipse_d(u, v, centre[0], centre[1], a, b, shape.angle)
    else:  # rect and bar (a thin rect)
        d = _rect_d(u, v, centre[0], centre[1], a, b, shape.angle)
    alpha = _soft(d, px) * shape.alpha
    colour = np.asarray(shape.colour, np.float32)
    if shape.stripes:
        c, s = math.cos(shape.angle), math.sin(shape.angle)
        band = 0.5 + 0.5 * np.sin((c * (u - centre[0]) + s * (v - centre[1])) * shape.stripes / max(a, b))
        colour = colour * (0.65 + 0.35 * band[..., None])
    canvas.paint(box, alpha, colour)


def _background(canvas: _Canvas, scene: Scene) -> None:
    c0, c1 = (np.asarray(c, np.float32) for c in scene.background)
    t = (math.cos(scene.background_angle) * canvas.x + math.sin(scene.background_angle) * canvas.y + 0.71) / 1.42
    canvas.rgb[:] = c0 + t[..., None] * (c1 - c0)
    if scene.stripes is not None:
        freq, angle, phase, colour, alpha = scene.stripes
        wave = np.sin((math.cos(angle) * canvas.x + math.sin(angle) * canvas.y) * freq * 2 * math.pi + phase)
        canvas.paint(np.s_[:, :], (0.5 + 0.5 * wave) * alpha, colour)
    for shape in scene.clutter:
        _draw_shape(canvas, shape, "image", shape.centre)


def _body(canvas: _Canvas, idn: Identity) -> None:
    box = canvas.box(0.0, idn.face_h + 1.4, 2.0, "plane")
    if box is not None:
        u, v = canvas.coords(box, "plane")
        alpha = _soft(_ellipse_d(u, v, 0.0, idn.face_h + 1.45, 1.9 * idn.face_w + 0.4, 0.95), canvas.px)
        canvas.paint(box, alpha, idn.clothes)
    box = canvas.box(0.0, idn.face_h * 0.9, 0.7, "plane")
    if box is not None:
        u, v = canvas.coords(box, "plane")
        d = _rect_d(u, v, 0.0, idn.face_h * 0.95, 0.42 * idn.face_w, 0.45)
        canvas.paint(box, _soft(d, canvas.px), _scaled(idn.skin, 0.78))


def _back_hair(canvas: _Canvas, idn: Identity) -> None:
    """Hair behind the head: long hair falling to the shoulders, or a big volume for puffy hair."""
    if idn.hair_style not in ("long", "puffy"):
        return
    w, h = idn.face_w + idn.hair_volume, idn.face_h + idn.hair_volume
    if idn.hair_style == "puffy":
        box = canvas.box(0.0, -0.25, max(w, h) + 0.4, "plane")
        u, v = canvas.coords(box, "plane")
        d = _ellipse_d(u, v, 0.0, -0.25, w + 0.25, h + 0.1)
        d = d + 0.04 * np.sin(np.arctan2(v + 0.25, u) * 13.0)  # a wavy rim reads as curls
    else:
        bottom = idn.hair_length
        box = canvas.box(0.0, (bottom - h) / 2, max(w, (bottom + h) / 2) + 0.2, "plane")
        u, v = canvas.coords(box, "plane")
        top = _ellipse_d(u, v, 0.0, -0.15, w, h)
        hang = _rect_d(u, v, 0.0, (bottom - 0.15) / 2, w * (0.95 + 0.1 * np.clip(v, 0, 2)), (bottom + 0.15) / 2)
        hang = hang + 0.05 * np.sin(u * 17.0) * (v > bottom - 0.3)  # ragged ends
        d = np.minimum(top, hang)
    canvas.paint(box, _soft(d, canvas.px), _scaled(idn.hair, 0.85))


def _ears(canvas: _Canvas, idn: Identity) -> None:
    for side in (-1.0, 1.0):
        # Ears sit on the sides of the head: yaw moves them like points at the cylinder's rim.
        cu = _curl(side * idn.face_w * 0.97, canvas.yaw_r, canvas.yaw)
        cv = _curl(idn.eye_v + 0.18, canvas.pitch_r, canvas.pitch)
        box = canvas.box(cu, cv, 0.3, "plane")
        if box is None:
            continue
        u, v = canvas.coords(box, "plane")
        d = _ellipse_d(u, v, cu + side * 0.06, cv, 0.12, 0.22, side * 0.15)
        canvas.paint(box, _soft(d, canvas.px), _scaled(idn.skin, 0.88))


def _face(canvas: _Canvas, idn: Identity, scene: Scene) -> tuple[tuple[slice, slice], np.ndarray]:
    """The skin-coloured outline, shaded towards its rim; returns its box and coverage (for beard and lighting)."""
    box = canvas.box(0.0, 0.0, max(idn.face_w, idn.face_h) + 0.1, "plane")
    u, v = canvas.coords(box, "plane")
    taper = 1.0 - idn.jaw * np.clip(v / idn.face_h, 0.0, 1.0) ** 2
    r = np.sqrt((u / (idn.face_w * taper)) ** 2 + (v / idn.face_h) ** 2)
    alpha = _soft((r - 1.0) * idn.face_w, canvas.px)
    shade = 1.0 - 0.22 * np.clip(r, 0.0, 1.0) ** 4
    # Directional light on the face (plus the image-wide gradient applied later) moves most skin pixels.
    c, s = math.cos(scene.light_angle), math.sin(scene.light_angle)
    shade = shade * (1.0 + scene.face_shading * (c * u / idn.face_w + s * v / idn.face_h))
    canvas.paint(box, alpha, np.asarray(idn.skin, np.float32) * shade[..., None])
    return box, alpha


def _line(canvas: _Canvas, points, width: float, colour, alpha: float, centre, radius) -> None:
    """A polyline stroke of `width` (face units) on the surface."""
    if alpha <= 0.01:
        return
    box = canvas.box(centre[0], centre[1], radius)
    if box is None:
        return
    u, v = canvas.coords(box)
    d = _segments_d(u, v, *_polyline(points)) - width / 2
    canvas.paint(box, _soft(d, canvas.px) * alpha, colour)


def _skin_lines(canvas: _Canvas, idn: Identity, ex: Expression) -> None:
    dark = _scaled(idn.skin, 0.62)
    depth = min(1.0, idn.skin_lines + ex.smile_lines)
    mouth_half = idn.mouth_w * (1.0 + max(ex.stretch, 0.0))
    for side in (-1.0, 1.0):  # nasolabial folds: nose wing to beyond the mouth corner, bowing outwards
        top = (side * (idn.nose_w + 0.06), idn.nose_v - 0.02)
        mid = (side * (mouth_half + 0.1 + 0.05 * depth), (idn.nose_v + idn.mouth_v) / 2 + 0.02)
        end = (side * (mouth_half + 0.08), idn.mouth_v + 0.12)
        _line(canvas, (top, mid, end), 0.035, dark, 0.55 * depth, mid, 0.35)
    if ex.nose_wrinkle > 0.01:  # disgust: short horizontal creases across the nose bridge
        ys = idn.eye_v + np.array([0.06, 0.13, 0.2])
        for y in ys:
            pts = ((-0.09, y + 0.02), (0.0, y - 0.01), (0.09, y + 0.02))
            _line(canvas, pts, 0.03, _scaled(idn.skin, 0.55), 0.8 * ex.nose_wrinkle, (0.0, y), 0.15)
    if ex.furrow > 0.01:  # anger: vertical lines between the brows
        top, bottom = idn.eye_v - idn.brow_gap - 0.04, idn.eye_v - 0.05
        for side in (-1.0, 1.0):
            pts = ((side * 0.05, top), (side * 0.035, bottom))
            _line(canvas, pts, 0.03, _scaled(idn.skin, 0.55), 0.85 * ex.furrow, (0.0, (top + bottom) / 2), 0.2)


def _eyes(canvas: _Canvas, idn: Identity, ex: Expression) -> None:
    openness = float(np.clip(1.0 + ex.eye_open, 0.3, 2.0))
    h = idn.eye_h * openness
    # A squint lifts the lower lid (cheeks up), wide eyes lift the upper lid: the centre moves up in both cases.
    cv = idn.eye_v - 0.45 * abs(idn.eye_h - h)
    lash = _scaled(idn.brows, 0.6)
    for side in (-1.0, 1.0):
        cu = side * idn.eye_sep
        box = canvas.box(cu, cv, idn.eye_w + 0.08)
        if box is None:
            continue
        u, v = canvas.coords(box)
        px = canvas.px
        canvas.paint(box, _soft(_ellipse_d(u, v, cu, cv - 0.012, idn.eye_w + 0.02, h + 0.028), px), lash)
        white = _soft(_ellipse_d(u, v, cu, cv, idn.eye_w, h), px)
        canvas.paint(box, white, (0.93, 0.92, 0.9))
        iu, iv = cu + ex.gaze[0] * idn.eye_w * 0.5, cv + ex.gaze[1] * idn.eye_h * 0.3
        radius = idn.eye_h * 1.05
        canvas.paint(box, _soft(_ellipse_d(u, v, iu, iv, radius, radius), px) * white, idn.iris)
        canvas.paint(box, _soft(_ellipse_d(u, v, iu, iv, radius * 0.45, radius * 0.45), px) * white, (0.03,) * 3)


def _brows(canvas: _Canvas, idn: Identity, ex: Expression) -> None:
    base = idn.eye_v - idn.brow_gap - ex.brow_raise
    inner_u = 0.1 + 0.04 * (idn.eye_sep - 0.3) / 0.1 - 0.03 * ex.furrow  # anger pulls the brows together
    for side in (-1.0, 1.0):
        inner = (side * inner_u, base - ex.brow_inner + 0.02)
        outer_u = side * (inner_u + idn.brow_len)
        outer = (outer_u, base + 0.035 + 0.3 * ex.brow_inner)  # the outer end moves a little the other way
        mid = (side * (inner_u + idn.brow_len * 0.6), base - 0.03 - 0.4 * ex.brow_inner * (ex.brow_inner > 0))
        centre = (side * (inner_u + idn.brow_len / 2), base)
        _line(canvas, (inner, mid, outer), idn.brow_thick, idn.brows, 0.95, centre, idn.brow_len / 2 + 0.15)


def _nose(canvas: _Canvas, idn: Identity) -> None:
    # The tip stands out of the surface: it slides further than the eyes when the head turns.
    nu = NOSE_DEPTH * math.sin(canvas.yaw)
    nv = idn.nose_v + NOSE_DEPTH * 0.5 * math.sin(canvas.pitch)
    dark = _scaled(idn.skin, 0.5)
    box = canvas.box(nu, nv, idn.nose_w + 0.1)
    if box is not None:
        u, v = canvas.coords(box)
        for side in (-1.0, 1.0):
            d = _ellipse_d(u, v, nu + side * idn.nose_w * 0.5, nv, 0.045, 0.028, side * 0.3)
            canvas.paint(box, _soft(d, canvas.px) * 0.75, dark)
    tip = ((nu - idn.nose_w, nv - 0.05), (nu, nv + 0.035), (nu + idn.nose_w, nv - 0.05))
    _line(canvas, tip, 0.025, dark, 0.35, (nu, nv), idn.nose_w + 0.1)
    side = 1.0 if canvas.yaw < 0 else -1.0  # the bridge shadow on the side turned away
    ridge = ((side * 0.07, idn.eye_v + 0.08), (nu + side * 0.08, nv - 0.08))
    _line(canvas, ridge, 0.03, _scaled(idn.skin, 0.75), 0.4, ((nu) / 2, (idn.eye_v + nv) / 2), 0.3)


@dataclasses.dataclass(frozen=True)
class _MouthShape:
    """The four lip curves as functions of the surface u: what the mouth, the moustache and the beard share."""

    idn: Identity
    ex: Expression

    @property
    def half_widths(self) -> tuple[float, float]:
        base = self.idn.mouth_w * (1.0 + self.ex.stretch) * (1.0 - 0.12 * self.ex.press)
        # A raised corner also pulls outwards: smiles widen the mouth, contempt widens one side.
        return base + 0.5 * max(self.ex.corner_left, 0.0), base + 0.5 * max(self.ex.corner_right, 0.0)

    def curves(self, u: np.ndarray):
        left, right = self.half_widths
        t = np.where(u < 0, u / left, u / right)
        tt = np.clip(t * t, 0.0, 1.0)
        body = np.sqrt(1.0 - tt)
        baseline = self.idn.mouth_v - np.where(u < 0, self.ex.corner_left, self.ex.corner_right) * tt
        upper_inner = baseline - 0.4 * self.ex.mouth_open * body - self.ex.upper_lip * body
        lower_inner = baseline + 0.6 * self.ex.mouth_open * body
        thin = 1.0 - 0.75 * self.ex.press
        upper_outer = upper_inner - self.idn.lip_upper * thin * (0.35 + 0.65 * body)
        lower_outer = lower_inner + self.idn.lip_lower * thin * (0.3 + 0.7 * body)
        edge = np.abs(u) - np.where(u < 0, left, right)
        return upper_outer, upper_inner, lower_inner, lower_outer, edge


def _mouth(canvas: _Canvas, idn: Identity, ex: Expression) -> None:
    shape = _MouthShape(idn, ex)
    left, right = shape.half_widths
    box = canvas.box((right - left) / 2, idn.mouth_v, max(left, right) + 0.3)
    if box is None:
        return
    u, v = canvas.coords(box)
    px = canvas.px
    upper_outer, upper_inner, lower_inner, lower_outer, edge = shape.curves(u)
    across = _soft(edge, px)
    canvas.paint(box, _soft(np.maximum(upper_outer - v, v - lower_outer), px) * across, idn.lips)
    # The lip line is at least ~0.4 px wide so a closed mouth still shows where the lips meet.
    gap = 0.2 * px
    inside = _soft(np.maximum(upper_inner - gap - v, v - lower_inner - gap), px) * across
    canvas.paint(box, inside, (0.2, 0.05, 0.06))
    teeth_h = np.minimum(0.05, (lower_inner - upper_inner) * 0.45)
    if ex.teeth > 0.01:
        d = np.maximum(upper_inner - v, v - (upper_inner + teeth_h))
        canvas.paint(box, _soft(d, px) * inside * ex.teeth, (0.92, 0.9, 0.82))
    if ex.lower_teeth > 0.01:
        d = np.maximum((lower_inner - teeth_h * 0.8) - v, v - lower_inner)
        canvas.paint(box, _soft(d, px) * inside * ex.lower_teeth, (0.88, 0.86, 0.78))
    for side, depth in ((-1.0, ex.dimple_left), (1.0, ex.dimple_right)):
        if depth > 0.01:  # contempt: a crease just outside the tightened, raised corner
            corner_u = side * (left if side < 0 else right)
            corner_v = idn.mouth_v - (ex.corner_left if side < 0 else ex.corner_right)
            pts = (
                (corner_u + side * 0.02, corner_v - 0.1),
                (corner_u + side * 0.08, corner_v + 0.01),
                (corner_u + side * 0.04, corner_v + 0.1),
            )
            _line(canvas, pts, 0.04, _scaled(idn.skin, 0.45), depth, (corner_u, corner_v), 0.25)


def _beard(canvas: _Canvas, idn: Identity, ex: Expression, face_box, face_alpha: np.ndarray) -> None:
    """Beard and moustache, drawn before the mouth so the lips always stay visible on top."""
    colour = _scaled(idn.hair, 0.8)
    shape = _MouthShape(idn, ex)
    if idn.beard != "none":
        u, v = canvas.coords(face_box)
        if idn.beard == "goatee":
            # On the chin, clear of the lower lip: a dark ring around the lips would read as an open mouth.
            lip_bottom = float(shape.curves(np.zeros(1, np.float32))[3][0])
            # Wide and flat along the chin, so it cannot pass for a round open mouth either.
            d = _ellipse_d(u, v, 0.0, lip_bottom + 0.22, idn.mouth_w * 0.85, 0.12)
        else:  # full beard and stubble: jaw and chin below a line from the cheekbones to under the lip
            top = idn.nose_v + 0.12 + (idn.mouth_v - idn.nose_v) * np.exp(-((u / (idn.mouth_w * 1.4)) ** 2))
            d = top - v
        feather = 2.5 * canvas.px if idn.beard == "stubble" else canvas.px * 1.5
        canvas.paint(face_box, _soft(d, feather) * face_alpha * idn.beard_alpha, colour)
    if idn.moustache:
        box = canvas.box(0.0, idn.mouth_v - 0.1, idn.mouth_w + 0.2)
        if box is not None:
            u, v = canvas.coords(box)
            upper_outer = shape.curves(u)[0]
            d = np.maximum(np.maximum(upper_outer - 0.075 - v, v - upper_outer + 0.005), np.abs(u) - idn.mouth_w * 1.05)
            canvas.paint(box, _soft(d, canvas.px) * 0.9, colour)


def _hair_top(canvas: _Canvas, idn: Identity) -> None:
    """Hair over the forehead and around the skull: the hairline is on the surface, the volume on the plane."""
    if idn.hair_style == "bald":
        return
    box = canvas.box(0.0, -0.3, max(idn.face_w, idn.face_h) + idn.hair_volume + 0.15, "plane")
    pu, pv = canvas.coords(box, "plane")
    su, sv = canvas.coords(box, "surface")
    w, h = idn.face_w + idn.hair_volume, idn.face_h + idn.hair_volume
    cap = _soft(_ellipse_d(pu, pv, 0.0, -0.05, w, h), canvas.px)
    hairline = idn.hairline + idn.temples * (su / idn.face_w) ** 2 + idn.parting * su
    on_face = _soft(sv - hairline, canvas.px)
    taper = 1.0 - idn.jaw * np.clip(pv / idn.face_h, 0.0, 1.0) ** 2
    outside = _soft(1.0 - np.sqrt((pu / (idn.face_w * taper)) ** 2 + (pv / idn.face_h) ** 2), canvas.px * 0.5)
    sides = idn.hair_length if idn.hair_style in ("long", "medium") else idn.eye_v + 0.05
    around = outside * _soft(pv - sides, canvas.px)
    alpha = cap * np.maximum(on_face, around)
    if idn.hair_style == "buzz":
        alpha *= 0.55
    canvas.paint(box, alpha, idn.hair)


def _glasses(canvas: _Canvas, idn: Identity) -> None:
    if idn.glasses is None:
        return
    a, b = idn.eye_w + 0.07, idn.eye_h + 0.09
    box = canvas.box(0.0, idn.eye_v, idn.face_w + 0.1)
    u, v = canvas.coords(box)
    rims, lenses = [], []
    for side in (-1.0, 1.0):
        cu = side * idn.eye_sep
        d = _ellipse_d(u, v, cu, idn.eye_v, a, b) if idn.glasses_round else _rect_d(u, v, cu, idn.eye_v, a, b)
        rims.append(np.abs(d) - 0.018)
        lenses.append(_soft(d, canvas.px))
    starts = np.array(
        [
            [-idn.eye_sep + a, idn.eye_v - 0.02],
            [idn.eye_sep + a, idn.eye_v - 0.03],
            [-idn.eye_sep - a, idn.eye_v - 0.03],
        ],
        np.float32,
    )
    ends = np.array(
        [[idn.eye_sep - a, idn.eye_v - 0.02], [idn.face_w, idn.eye_v - 0.01], [-idn.face_w, idn.eye_v - 0.01]],
        np.float32,
    )
    arms = _segments_d(u, v, starts, ends) - 0.015
    canvas.paint(box, np.maximum(*lenses) * idn.lens_tint, (0.2, 0.25, 0.3))
    canvas.paint(box, _soft(np.minimum(np.minimum(*rims), arms), canvas.px), idn.glasses)


def _occluder(canvas: _Canvas, shape: Shape | None) -> None:
    """A hand or object in front of part of the face; its centre is a surface point, its extent plane units."""
    if shape is None:
        return
    centre = (_curl(shape.centre[0], canvas.yaw_r, canvas.yaw), _curl(shape.centre[1], canvas.pitch_r, canvas.pitch))
    _draw_shape(canvas, shape, "plane", centre)


def _lighting(canvas: _Canvas, scene: Scene) -> None:
    c, s = math.cos(scene.light_angle), math.sin(scene.light_angle)
    gain = scene.ambient * (1.0 + 2.0 * scene.light_gradient * (c * canvas.x + s * canvas.y))
    canvas.rgb *= gain[..., None] * np.asarray(scene.cast, np.float32)


def _degrade(rgb: np.ndarray, scene: Scene) -> np.ndarray:
    """Camera and compression: blur, sensor noise, greyscale, JPEG. The order a real capture would apply them."""
    pixels = (np.clip(rgb, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    image = Image.fromarray(pixels)
    if scene.blur > 0:
        image = image.filter(ImageFilter.GaussianBlur(scene.blur))
    if scene.noise > 0:
        noise = np.random.default_rng(scene.noise_seed).standard_normal(rgb.shape, np.float32)
        noisy = np.asarray(image, np.float32) + noise * (scene.noise * 255.0)
        image = Image.fromarray(np.clip(noisy + 0.5, 0, 255).astype(np.uint8))
    if scene.greyscale:
        image = image.convert("L").convert("RGB")
    if scene.jpeg_quality:
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=scene.jpeg_quality)
        image = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    return np.asarray(image, np.uint8)


def render(face: FaceSpec, size: int) -> np.ndarray:
    """The face as a uint8 (size, size, 3) image. Pure function of `face` and `size`."""
    idn, ex, scene = face.identity, face.expression, face.scene
    canvas = _Canvas(size, face.pose, idn)
    _background(canvas, scene)
    _body(canvas, idn)
    _back_hair(canvas, idn)
    _ears(canvas, idn)
    face_box, face_alpha = _face(canvas, idn, scene)
    _skin_lines(canvas, idn, ex)
    _nose(canvas, idn)
    _beard(canvas, idn, ex, face_box, face_alpha)
    _mouth(canvas, idn, ex)
    _eyes(canvas, idn, ex)
    _brows(canvas, idn, ex)
    _hair_top(canvas, idn)
    _glasses(canvas, idn)
    _occluder(canvas, scene.occluder)
    _lighting(canvas, scene)
    return _degrade(canvas.rgb, scene)
