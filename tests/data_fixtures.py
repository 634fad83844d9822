"""Miniature copies of the real data sets' releases, in their exact on-disk formats (docs/DATASETS.md), built at test
time: a few images per class, plus the broken files and rows users meet. No licensed data is involved.

Face images are flat patterns whose colour encodes the record, so a test can check which image and which part of
it (the crop) ended up in a record: inside a face box the left half is red and the right half blue; outside it is
green.
"""

from __future__ import annotations

import csv
import io
import os

import numpy as np
import scipy.io
from PIL import Image

from data_pipelines import image_files

RED, BLUE, GREEN = (220, 30, 30), (30, 30, 220), (30, 200, 30)


def face_box_photo(width: int, height: int, box: tuple[int, int, int, int]) -> Image.Image:
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[:] = GREEN
    x, y, w, h = box
    pixels[y : y + h, x : x + w // 2] = RED
    pixels[y : y + h, x + w // 2 : x + w] = BLUE
    return Image.fromarray(pixels)


def plain_face(size: int, value: int) -> Image.Image:
    """A face stand-in whose grey level `value` identifies it after a round trip."""
    return Image.new("RGB", (size, size), (value, value, value))


jpeg_bytes, png_bytes = image_files.encode_jpeg, image_files.encode_png


# Files every format is given some of. Each maps a file name suffix to (bytes, the reason it is skipped or None).
def odd_images(base: Image.Image) -> dict[str, tuple[bytes, str | None]]:
    """Images in every awkward encoding: the converted ones keep their record, the broken ones are skipped."""
    sixteen_bit = Image.fromarray(np.asarray(base.convert("L"), np.uint16) * 257)
    good = jpeg_bytes(base)
    huge, big = bytearray(bmp_bytes(base)), bytearray(bmp_bytes(base))
    huge[18:26] = (200_000).to_bytes(4, "little") * 2  # damaged headers claiming 200,000 and 9,000 pixels a side:
    big[18:26] = (9_000).to_bytes(4, "little") * 2  # beyond Pillow's own limit, and beyond ours only
    return {
        "cmyk.jpg": (jpeg_bytes(base.convert("CMYK")), None),
        "palette.png": (png_bytes(base.convert("P")), None),
        "alpha.png": (png_bytes(base.convert("RGBA")), None),
        "grey16.png": (png_bytes(sixteen_bit), None),
        "grey.jpg": (jpeg_bytes(base.convert("L")), None),
        "empty.jpg": (b"", "empty file (0 bytes)"),
        "truncated.jpg": (good[: len(good) // 2], "damaged image"),
        "text.jpg": (b"this is a note, not a photo\n", "not an image"),
        "huge_header.bmp": (bytes(huge), "too large"),
        "big_header.bmp": (bytes(big), "too large"),
    }


def bmp_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="BMP")
    return buffer.getvalue()


def _write(path: str, data: bytes) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


AFFECTNET_COLUMNS = [
    "subDirectory_filePath",
    "face_x",
    "face_y",
    "face_width",
    "face_height",
    "facial_landmarks",
    "expression",
    "valence",
    "arousal",
]
AFFECTNET_BOX = (20, 10, 60, 60)  # x, y, width, height inside a 120 x 100 photo


def affectnet_landmarks(box=AFFECTNET_BOX) -> np.ndarray:
    x, y, w, h = box
    t = np.linspace(0.1, 0.9, 68)
    return np.stack([x + w * t, y + h * t[::-1]], axis=1).astype(np.float32)


def write_affectnet_official(root: str, per_class: dict[str, int], headerless_validation: bool = False) -> dict:
    """Manually_Annotated_Images/<dir>/<name>.jpg + training.csv, validation.csv. Returns what should come out:
    {'written': {split: {code: count}}, 'skipped': {split: {file: reason fragment}}}."""
    landmarks = ";".join(f"{v:.2f}" for v in affectnet_landmarks().reshape(-1))
    photo = face_box_photo(120, 100, AFFECTNET_BOX)
    expected = {"written": {}, "skipped": {}}
    for split, csv_name in (("train", "training.csv"), ("validation", "validation.csv")):
        rows, written, skipped = [], {}, {}

        def row(name, code, box=AFFECTNET_BOX, valence="0.25", arousal="-0.5", rows=rows):
            rows.append([name, *map(str, box), landmarks, str(code), valence, arousal])

        for code in range(8):
            for i in range(per_class[split]):
                name = f"{split}{code}/{i:03d}.jpg"
                _write(os.path.join(root, "Manually_Annotated_Images", name), jpeg_bytes(photo))
                row(name, code)
            written[code] = per_class[split]
        for code in (8, 9, 10):
            name = f"{split}_other/{code}.jpg"
            _write(os.path.join(root, "Manually_Annotated_Images", name), jpeg_bytes(photo))
            row(name, code)
            skipped[name] = f"expression {code}"
        for suffix, (data, reason) in odd_images(photo).items():
            name = f"{split}_odd/{suffix}"
            _write(os.path.join(root, "Manually_Annotated_Images", name), data)
            row(name, 1)
            if reason:
                skipped[name] = reason
            else:
                written[1] += 1
        row(f"{split}_odd/missing.jpg", 2)
        skipped[f"{split}_odd/missing.jpg"] = "file listed but missing"
        for code in ("inf", "1.7"):
            row(f"{split}0/000.jpg?{code}", code)
            skipped[f"{split}0/000.jpg?{code}"] = "not a whole number"
        row(f"{split}1/000.jpg", 1)  # the same file listed again
        skipped[f"{split}1/000.jpg (again)"] = "listed twice"
        name = f"{split}_odd/no_valence.jpg"  # kept, with NaN valence and arousal
        _write(os.path.join(root, "Manually_Annotated_Images", name), jpeg_bytes(photo))
        row(name, 0, valence="", arousal="n/a")
        written[0] += 1
        # Paths that leave the release: a real image outside it, named absolutely and through "..".
        outside = os.path.join(os.path.dirname(os.path.abspath(root)), f"outside_{split}.jpg")
        _write(outside, jpeg_bytes(photo))
        for name in (outside, f"{split}0/../../../{os.path.basename(outside)}"):
            row(name, 1)
            skipped[name] = "path outside the release folder"
        name = f"{split}_odd/box_outside.jpg"
        _write(os.path.join(root, "Manually_Annotated_Images", name), jpeg_bytes(photo))
        row(name, 3, box=(500, 400, 60, 60))
        skipped[name] = "lies outside"
        with open(os.path.join(root, csv_name), "w", newline="") as f:
            out = csv.writer(f)
            if not (headerless_validation and split == "validation"):
                out.writerow(AFFECTNET_COLUMNS)
            out.writerows(rows)
        with open(os.path.join(root, csv_name), "ab") as f:  # a Latin-1 byte in a UTF-8 file
            f.write(f"{split}_odd/caf\xe9.jpg,20,10,60,60,,1,0,0\n".encode("latin-1"))
        skipped[f"{split}_odd/caf\ufffd.jpg"] = "file listed but missing"
        expected["written"][split] = written
        expected["skipped"][split] = skipped
    return expected


def write_affectnet_224(root: str, per_class: int) -> dict:
    """train_set/ and val_set/ with images/<id>.jpg and annotations/<id>_{exp,val,aro,lnd}.npy."""
    expected = {"written": {}, "skipped": {}}
    for split, folder in (("train", "train_set"), ("validation", "val_set")):
        written, skipped = {}, {}
        images, annotations = os.path.join(root, folder, "images"), os.path.join(root, folder, "annotations")
        number = 0
        for code in list(range(8)) * per_class + [9, 5, 1]:
            number += 1
            stem = str(number)
            _write(os.path.join(images, f"{stem}.jpg"), jpeg_bytes(plain_face(224, 20 * code + 10)))
            if code == 5 and number > 8 * per_class:
                skipped[f"{folder}/images/{stem}.jpg"] = "no annotation"  # its .npy files are missing
                continue
            os.makedirs(annotations, exist_ok=True)
            np.save(os.path.join(annotations, f"{stem}_exp.npy"), np.array(str(code)))
            np.save(os.path.join(annotations, f"{stem}_val.npy"), np.array("0.5"))
            np.save(os.path.join(annotations, f"{stem}_aro.npy"), np.array("-0.25"))
            np.save(
                os.path.join(annotations, f"{stem}_lnd.npy"),
                np.array([f"{v:.3f}" for v in affectnet_landmarks((0, 0, 224, 224)).reshape(-1)]),
            )
            if code == 9:
                skipped[f"{folder}/images/{stem}.jpg"] = "expression 9"
            elif code == 1 and number > 8 * per_class:
                _write(os.path.join(images, f"{stem}.jpg"), b"")
                skipped[f"{folder}/images/{stem}.jpg"] = "empty file"
            else:
                written[code] = written.get(code, 0) + 1
        expected["written"][split] = written
        expected["skipped"][split] = skipped
    return expected


RAFDB_TO_CANONICAL = {1: 3, 2: 4, 3: 5, 4: 1, 5: 2, 6: 6, 7: 0}  # docs/DATASETS.md, independent of label_maps.py


def write_rafdb(root: str, per_class: int) -> dict:
    """basic/EmoLabel/list_patition_label.txt + basic/Image/aligned/<name>_aligned.jpg (100 x 100)."""
    base = os.path.join(root, "basic")
    lines, expected = [], {"written": {"train": {}, "test": {}}, "skipped": {"train": {}, "test": {}}}
    for split in ("train", "test"):
        number = 0
        for code in list(range(1, 8)) * per_class:
            number += 1
            name = f"{split}_{number:05d}.jpg"
            lines.append(f"{name} {code}")
            _write(
                os.path.join(base, "Image", "aligned", f"{split}_{number:05d}_aligned.jpg"),
                jpeg_bytes(plain_face(100, 30 * code)),
            )
            canonical = RAFDB_TO_CANONICAL[code]
            expected["written"][split][canonical] = expected["written"][split].get(canonical, 0) + 1
        lines.append(f"{split}_09998.jpg 3")  # listed, no file
        expected["skipped"][split][f"{split}_09998.jpg"] = "file listed but missing"
        lines.append(f"{split}_09999.jpg 9")  # no such label
        expected["skipped"][split][f"{split}_09999.jpg"] = "is not `<name> <1-7>`"
    _write(os.path.join(base, "EmoLabel", "list_patition_label.txt"), ("\n".join(lines) + "\n").encode())
    return expected


FER_TO_CANONICAL = {0: 6, 1: 5, 2: 4, 3: 1, 4: 2, 5: 3, 6: 0}  # docs/DATASETS.md


def fer_grey(code: int) -> int:
    """The grey level of every pixel of a FER2013 fixture face with emotion `code`."""
    return 30 * code + 20


FER_USAGES = {"Training": "train", "PublicTest": "public_test", "PrivateTest": "private_test"}
FERPLUS_COLUMNS = [
    "Usage",
    "Image name",
    "neutral",
    "happiness",
    "surprise",
    "sadness",
    "anger",
    "disgust",
    "fear",
    "contempt",
    "unknown",
    "NF",
]


def write_fer2013(root: str, per_class: int) -> dict:
    """fer2013.csv (emotion, pixels, Usage) and the matching FERPlus fer2013new.csv (votes). Returns the FER2013
    expectations and, under 'ferplus', the FERPlus ones."""
    fer_rows, plus_rows = [], []
    fer = {"written": {s: {} for s in FER_USAGES.values()}, "skipped": {s: {} for s in FER_USAGES.values()}}
    plus = {
        "written": {s: {} for s in FER_USAGES.values()},
        "skipped": {s: {} for s in FER_USAGES.values()},
        "votes": {},
    }
    for usage, split in FER_USAGES.items():
        for code in [c for c in range(7) for _ in range(per_class + c % 3)]:  # uneven class counts
            number = len(fer_rows)
            pixels = " ".join([str(fer_grey(code))] * (48 * 48))
            fer_rows.append([str(code), pixels, usage])
            fer["written"][split][FER_TO_CANONICAL[code]] = fer["written"][split].get(FER_TO_CANONICAL[code], 0) + 1
            # FERPlus: most rows agree with a clear majority for canonical class (number % 8); some do not.
            votes = [0] * 10
            image_name = f"fer{number:07d}.png"
            kind = number % 11
            if kind == 9:
                votes[9] = 8  # NF: not a face
                votes[0] = 2
                plus["skipped"][split][image_name] = "most votes say NF"
            elif kind == 10:
                votes[1], votes[2], votes[3] = 4, 3, 3  # happiness 4 of 10: no majority
                plus["skipped"][split][image_name] = "no emotion has a majority"
            else:
                column = kind % 8  # index among the FERPlus emotion columns
                votes[column] = 7
                votes[(column + 1) % 8] = 1  # a single vote: noise
                votes[(column + 2) % 8] = 2
                canonical = [0, 1, 3, 2, 6, 5, 4, 7][column]  # FERPlus column order -> canonical (docs/DATASETS.md)
                plus["written"][split][canonical] = plus["written"][split].get(canonical, 0) + 1
                plus["votes"][image_name] = (canonical, votes)
            plus_rows.append([usage, image_name, *map(str, votes)])
        # Broken rows: too few pixels, a code that is no emotion, a row FERPlus removed.
        fer_rows.append(["3", "1 2 3", usage])
        plus_rows.append([usage, f"fer{len(plus_rows):07d}.png", "10", *["0"] * 9])
        fer["skipped"][split][f"row_{len(fer_rows) - 1:05d}"] = "3 pixel values"
        plus["skipped"][split][f"fer{len(plus_rows) - 1:07d}.png"] = "3 pixel values"
        fer_rows.append(["7", " ".join(["0"] * 2304), usage])
        plus_rows.append([usage, "", *["0"] * 10])
        fer["skipped"][split][f"row_{len(fer_rows) - 1:05d}"] = "not a FER2013 code"
        plus["skipped"][split][f"row_{len(plus_rows) - 1:05d}"] = "removed by FERPlus"
    with open(os.path.join(root, "fer2013.csv"), "w", newline="") as f:
        csv.writer(f).writerows([["emotion", "pixels", "Usage"], *fer_rows])
    with open(os.path.join(root, "fer2013new.csv"), "w", newline="") as f:
        csv.writer(f).writerows([FERPLUS_COLUMNS, *plus_rows])
    return {"fer2013": fer, "ferplus": plus}


def write_face_folder(root: str, class_folders: dict[str, int], per_class: int, odd_split: str = "train") -> dict:
    """<split>/<class folder>/<image>; `class_folders` maps each folder name to the grey level its faces get."""
    expected = {"written": {}, "skipped": {}}
    for split in ("train", "val"):
        expected["written"][split], expected["skipped"][split] = {}, {}
        for folder, value in class_folders.items():
            for i in range(per_class):
                _write(os.path.join(root, split, folder, f"{i:03d}.jpg"), jpeg_bytes(plain_face(64, value)))
            expected["written"][split][folder] = per_class
        if split == odd_split:
            folder = next(iter(class_folders))
            for suffix, (data, reason) in odd_images(plain_face(64, class_folders[folder])).items():
                _write(os.path.join(root, split, folder, f"odd_{suffix}"), data)
                if reason:
                    expected["skipped"][split][f"{split}/{folder}/odd_{suffix}"] = reason
                else:
                    expected["written"][split][folder] += 1
    return expected


CELEBA_GREY = {0: 60, 1: 180}  # female, male: the grey level of each fixture face says its label


def write_celeba(root: str, per_split: int) -> dict:
    """img_align_celeba/NNNNNN.jpg (178 x 218) + list_attr_celeba.txt (40-attribute layout, `Male` third of four
    here) + list_eval_partition.txt, with `per_split` faces of each gender in each split, an awkward image of every
    kind in train, and the broken rows users meet."""
    attributes, partition = [], []
    expected = {"written": {}, "skipped": {s: {} for s in ("train", "validation", "test")}}
    number = 0

    def add(split_code, male, data, attribute_value=None, listed=True):
        nonlocal number
        number += 1
        name = f"{number:06d}.jpg"
        if data is not None:
            _write(os.path.join(root, "img_align_celeba", name), data)
        if listed:
            value = attribute_value or ("1" if male else "-1")
            attributes.append(f"{name} -1  1 {value:>2}  1")
        partition.append(f"{name} {split_code}")
        return name

    for code, split in enumerate(("train", "validation", "test")):
        counts = expected["written"].setdefault(split, {})
        for male in (0, 1) * per_split:
            add(code, male, jpeg_bytes(Image.new("RGB", (178, 218), (CELEBA_GREY[male],) * 3)))
            counts[male] = counts.get(male, 0) + 1
        missing = add(code, 0, None)
        expected["skipped"][split][missing] = "file listed but missing"
        unlisted = add(code, 1, jpeg_bytes(plain_face(178, 180)), listed=False)
        expected["skipped"][split][unlisted] = "not in list_attr_celeba.txt"
        zero = add(code, 1, jpeg_bytes(plain_face(178, 180)), attribute_value="0")
        expected["skipped"][split][zero] = "`Male` attribute is not 1 or -1"
    for data, reason in odd_images(Image.new("RGB", (178, 218), (CELEBA_GREY[1],) * 3)).values():
        name = add(0, 1, data)
        if reason:
            expected["skipped"]["train"][name] = reason
        else:
            expected["written"]["train"][1] += 1
    partition.append("000999.jpg 7")
    expected["skipped"]["train"]["list_eval_partition.txt:" + str(len(partition))] = "is not `<image> <0|1|2>`"
    header = f"{len(attributes)}\n5_o_Clock_Shadow Arched_Eyebrows Male Young\n"
    _write(os.path.join(root, "list_attr_celeba.txt"), (header + "\n".join(attributes) + "\n").encode())
    _write(os.path.join(root, "list_eval_partition.txt"), ("\n".join(partition) + "\n").encode())
    return expected


POSE_PHOTO_SIZE = (120, 100)
POSE_FACE = (40, 30, 80, 70)  # the landmarks' box in a pose photo: a bright square on black


def _pose_files(folder: str, stem: str, image: bytes, angles, points: int, mat: bytes | None = None) -> None:
    """`stem`.jpg and `stem`.mat (Pose_Para in radians: pitch, yaw, roll, then translation and scale; pt2d 2 x N
    landmarks spread over POSE_FACE) as the 3DDFA releases write them. `angles` = (yaw, pitch, roll) degrees."""
    _write(os.path.join(folder, f"{stem}.jpg"), image)
    if mat is None:
        yaw, pitch, roll = np.radians(angles)
        x0, y0, x1, y1 = POSE_FACE
        t = np.linspace(0.0, 1.0, points)
        landmarks = np.stack([x0 + (x1 - x0) * t, y0 + (y1 - y0) * (t * 7 % 1.0)])
        landmarks[:, [0, -1]] = [[x0, x1], [y0, y1]]  # the box's corners
        buffer = io.BytesIO()
        scipy.io.savemat(
            buffer, {"Pose_Para": np.array([[pitch, yaw, roll, 10.0, 5.0, 0.0, 0.002]]), "pt2d": landmarks}
        )
        mat = buffer.getvalue()
    _write(os.path.join(folder, f"{stem}.mat"), mat)


def pose_photo() -> Image.Image:
    image = Image.new("RGB", POSE_PHOTO_SIZE, (0, 0, 0))
    image.paste((200, 200, 200), POSE_FACE)
    return image


def write_head_pose(root: str, release: str) -> dict:
    """A miniature 300W-LP (`release='pose_300w_lp'`: 300W_LP/{AFW,HELEN,IBUG,LFPW}[_Flip]/, 68 landmarks) or
    AFLW2000 (`'aflw2000'`: AFLW2000/, 21 landmarks, some unseen as -1), with the broken pairs users meet. Returns
    the expected report and {file name: (yaw, pitch, roll)} of the records written."""
    split = "train" if release == "pose_300w_lp" else "test"
    base = os.path.join(root, "300W_LP" if release == "pose_300w_lp" else "AFLW2000")
    folders = ["AFW", "HELEN", "IBUG", "LFPW", "HELEN_Flip"] if release == "pose_300w_lp" else [""]
    points = 68 if release == "pose_300w_lp" else 21
    good = jpeg_bytes(pose_photo())
    angles, skipped = {}, {}
    for number, folder in enumerate(folders):
        for k, pose in enumerate([(10.0 * number - 20, 5.0 - number, 3.0 * number), (-60.0, 15.0, -8.0)]):
            stem = f"{folder or 'image'}_{number}{k}"
            _pose_files(os.path.join(base, folder), stem, good, pose, points)
            angles[os.path.join(folder, f"{stem}.jpg")] = pose
    first = folders[0]
    where = lambda stem: os.path.join(first, f"{stem}.jpg")  # noqa: E731
    _write(os.path.join(base, first, "no_mat.jpg"), good)
    skipped[where("no_mat")] = "no readable no_mat.mat beside the image"
    _pose_files(os.path.join(base, first), "garbage", good, None, points, mat=b"MATLAB? no, a note\n")
    skipped[where("garbage")] = "garbage.mat is not a MATLAB file"
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, {"pt2d": np.zeros((2, points))})
    _pose_files(os.path.join(base, first), "no_pose", good, None, points, mat=buffer.getvalue())
    skipped[where("no_pose")] = "no_pose.mat lacks Pose_Para"
    _pose_files(os.path.join(base, first), "yaw_120", good, (120.0, 0.0, 0.0), points)
    skipped[where("yaw_120")] = "yaw beyond +-99 degrees"
    _pose_files(os.path.join(base, first), "pitch_minus_100", good, (0.0, -100.0, 0.0), points)
    skipped[where("pitch_minus_100")] = "pitch beyond +-99 degrees"
    for suffix, (data, reason) in odd_images(pose_photo()).items():
        stem = "odd_" + suffix.replace(".", "_")
        _pose_files(os.path.join(base, first), stem, data, (1.0, 2.0, 3.0), points)
        if reason:
            skipped[where(stem)] = reason
        else:
            angles[where(stem)] = (1.0, 2.0, 3.0)
    if release == "pose_300w_lp":
        _write(os.path.join(base, "landmarks", "AFW", "AFW_00_pts.mat"), b"not read")  # the release has it; unused
    else:  # AFLW2000 marks unseen landmarks -1: the crop ignores them
        _pose_files(base, "unseen", good, (4.0, 5.0, 6.0), points)
        mat = scipy.io.loadmat(os.path.join(base, "unseen.mat"))
        mat["pt2d"][:, 3:6] = -1.0
        scipy.io.savemat(os.path.join(base, "unseen.mat"), {k: mat[k] for k in ("Pose_Para", "pt2d")})
        angles["unseen.jpg"] = (4.0, 5.0, 6.0)
    expected = {"written": {split: {0: len(angles)}}, "skipped": {split: skipped}}
    return expected, angles
