"""The clinical loop, end to end: Orthanc (``scripts/pacs.sh``), MONAI Label (``scripts/monailabel.sh --pacs``), OHIF.

One Orthanc holds the embedded unseen CT patient (UIDs repaired); one MONAI Label server serves the
CT bundle from it over DICOMweb. The tests call the REST API as OHIF and 3D Slicer do: list, infer,
save the label as final (a DICOM SEG stored in Orthanc, read back and compared voxel for voxel),
then the faults (a refused series, a STOW-RS rejection, Orthanc down). A headless Chromium opens
MONAI Label's OHIF against that PACS.

Weights: with ``bundles/ct_dca_segmentation/models/model.pt`` shipped, the app serves them with the
bundle's own inference sizes and the label must hold the liver and the spleen; without it, the
app's copy gets seeded random weights and CI sizes, and only the plumbing is checked (geometry,
classes, SEG == label). ``DCA_MONAI_OHIF_SCREENSHOT=PATH`` also saves the screenshot of the viewer
with MONAI Label's SEG hung over the CT there. Needs Debian's orthanc, orthanc-dicomweb and chromium
(``scripts/setup_env.sh``); ``DCA_MONAI_SKIP_MONAILABEL=1`` skips, saying so.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
import torch
from PIL import Image

from dca_monai.apps.ct_example_series import write_ct_example_series
from dca_monai.apps.label_grid import label_on_grid
from dca_monai.data.dicom_series import DicomSeries, read_dicom_series
from dca_monai.transforms.dicom_seg_writer import segment_code
from tests.scripts.monailabel_server import REPO_ROOT, SCRIPT, Server, free_port, setup_app, skip_without_monailabel
from tests.scripts.orthanc_pacs import Orthanc, seg_volume_on_series

pytestmark = pytest.mark.slow

BUNDLE = "ct_dca_segmentation"
SHIPPED = (REPO_ROOT / "bundles" / BUNDLE / "models" / "model.pt").is_file()
# random weights only exercise the plumbing: CI-sized inference in the app's copy
CI_SIZES = {"pixdim": [6.0, 6.0, 6.0], "roi_size": [96, 96, 16], "sw_batch_size": 1}  # one window
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--enable-unsafe-swiftshader",  # OHIF's viewports need WebGL: software rendering
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,800",
]
REFUSE_SEG_LUA = """function ReceivedInstanceFilter(dicom, origin, info)
  return dicom.Modality ~= 'SEG'
end
"""


def _require(*commands: str) -> None:
    missing = [command for command in commands if shutil.which(command) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} not installed: run scripts/setup_env.sh (Debian orthanc*, chromium)")


def _http_error(call) -> tuple[int, str]:
    with pytest.raises(urllib.error.HTTPError) as caught:
        call()
    return caught.value.code, caught.value.read().decode(errors="replace")


@pytest.fixture(scope="module")
def series(tmp_path_factory: pytest.TempPathFactory) -> DicomSeries:
    """The repaired CT series as ``scripts/pacs.sh load-ct-example`` loads it (same UIDs)."""
    folder = write_ct_example_series(tmp_path_factory.mktemp("ct_series"), decompress=True)
    return read_dicom_series(folder, decode=False)


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Orthanc]:
    _require("Orthanc", "curl")
    pacs = Orthanc(tmp_path_factory.mktemp("orthanc"))
    try:
        pacs.script("load-ct-example", "--port", str(pacs.port), "--dir", str(pacs.folder))
        yield pacs
    finally:
        pacs.stop()


@pytest.fixture(scope="module")
def app_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The monaibundle app with the CT bundle: its shipped weights, else seeded random ones at CI sizes."""
    skip_without_monailabel()
    app = setup_app(tmp_path_factory.mktemp("monailabel") / "monaibundle", BUNDLE)
    bundle = app / "model" / BUNDLE
    if not SHIPPED:
        from monai.bundle import ConfigParser

        inference = bundle / "configs" / "inference.json"
        config = json.loads(inference.read_text())
        config.update(CI_SIZES)
        inference.write_text(json.dumps(config, indent=4))
        parser = ConfigParser()
        parser.read_config(str(inference))
        torch.manual_seed(0)
        torch.save(parser.get_parsed_content("network_def").state_dict(), bundle / "models" / "model.pt")
    return app


@pytest.fixture(scope="module")
def server(app_dir: Path, orthanc: Orthanc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("logs") / "monailabel.log"
    started = Server(app_dir, ["--pacs", orthanc.dicomweb], BUNDLE, log)
    yield started
    started.stop()


@pytest.fixture(scope="module")
def classes(app_dir: Path) -> dict[int, str]:
    """``{value: name}`` of the served bundle's output channels (its metadata's channel_def)."""
    metadata = json.loads((app_dir / "model" / BUNDLE / "configs" / "metadata.json").read_text())
    channel_def = metadata["network_data_format"]["outputs"]["pred"]["channel_def"]
    return {int(value): name for value, name in channel_def.items()}


@pytest.fixture(scope="module")
def label_file(server: Server, series: DicomSeries, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``/infer/ct_dca_segmentation`` on the Orthanc series, as OHIF calls it; the label NIfTI."""
    series_uid = str(series.headers[0].SeriesInstanceUID)
    path = tmp_path_factory.mktemp("infer") / "label.nii.gz"
    path.write_bytes(server.request("POST", f"/infer/{BUNDLE}?image={series_uid}&output=image"))
    return path


def test_pacs_script_start_load_stop(tmp_path: Path, series: DicomSeries) -> None:
    _require("Orthanc", "curl")
    pacs = Orthanc(tmp_path / "pacs")
    try:
        assert "already runs" in pacs.script("start", "--port", str(pacs.port), "--dir", str(pacs.folder), check=False)
        pacs.script("load", str(series.folder), "--port", str(pacs.port))
        study_uid = str(series.headers[0].StudyInstanceUID)
        assert study_uid in pacs.script("status", "--port", str(pacs.port))
        assert [s["0020000E"]["Value"][0] for s in pacs.qido("series")] == [str(series.headers[0].SeriesInstanceUID)]
        assert "not a folder" in pacs.script("load", str(tmp_path / "missing"), "--port", str(pacs.port), check=False)

        # the HTTP socket listens on every interface (Orthanc 1.10 cannot bind one) but refuses other clients
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: only picks this host's outgoing address
            address = probe.getsockname()[0]
        if not address.startswith("127."):
            status, _ = _http_error(lambda: urllib.request.urlopen(f"http://{address}:{pacs.port}/system", timeout=10))
            assert status in (401, 403)
        # its only listening socket is the HTTP port: no DICOM (DIMSE) port
        pid = (pacs.folder / "orthanc.pid").read_text().strip()
        listening = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=False).stdout
        ports = {line.split()[3].rsplit(":", 1)[1] for line in listening.splitlines() if f"pid={pid}," in line}
        assert ports == {str(pacs.port)}, listening
    finally:
        pacs.stop()
    assert not (pacs.folder / "orthanc.pid").exists()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{pacs.url}/system", timeout=5)
    # the storage outlives the process
    pacs.start()
    try:
        assert len(pacs.qido("studies")) == 1
    finally:
        pacs.stop()


def test_datastore_lists_the_orthanc_series(server: Server, series: DicomSeries) -> None:
    stats = json.loads(server.request("GET", "/datastore/?output=stats"))
    assert stats["total"] == 1, stats
    first = json.loads(server.request("POST", "/activelearning/first", {}))
    assert first["id"] == str(series.headers[0].SeriesInstanceUID)


def test_infer_returns_the_label_on_the_series_grid(label_file: Path, series: DicomSeries, classes) -> None:
    label = nib.load(label_file)
    assert label.shape == series.shape
    np.testing.assert_allclose(label.affine, series.affine, atol=1e-3)
    values = set(np.unique(np.asarray(label.dataobj)).astype(int).tolist())
    assert values <= set(classes), f"label values {values}; the bundle's classes are {classes}"
    if SHIPPED:  # the shipped CT model sees this unseen patient's upper abdomen
        present = {classes[value] for value in values}
        assert {"liver", "spleen"} <= present, f"the shipped model found only {present}"
    else:
        assert len(values) > 1, "random weights gave background only: the plumbing check would be empty"


def test_final_label_is_a_dicom_seg_in_orthanc(
    server: Server, orthanc: Orthanc, label_file: Path, series: DicomSeries, classes
) -> None:
    study_uid, series_uid = str(series.headers[0].StudyInstanceUID), str(series.headers[0].SeriesInstanceUID)
    assert orthanc.qido("series?Modality=SEG") == []
    answer = _save_final(server, series_uid, label_file)
    assert answer["image"] == series_uid

    segs = orthanc.qido("series?Modality=SEG")
    assert len(segs) == 1
    seg_series = segs[0]["0020000E"]["Value"][0]
    (seg,) = orthanc.wado_series(segs[0]["0020000D"]["Value"][0], seg_series)
    assert seg.StudyInstanceUID == study_uid
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == series_uid
    referenced = {item.ReferencedSOPInstanceUID for item in seg.ReferencedSeriesSequence[0].ReferencedInstanceSequence}
    assert referenced == {str(header.SOPInstanceUID) for header in series.headers}
    assert seg.FrameOfReferenceUID == series.headers[0].FrameOfReferenceUID

    label = nib.load(label_file)
    expected = label_on_grid(np.asarray(label.dataobj).astype(np.uint8), label.affine, series.shape, series.affine)
    # segment numbers of pydicom-seg are 1.. in the order of the label values present: map them back
    values = sorted(set(np.unique(expected).tolist()) - {0})
    segments = {int(item.SegmentNumber): item for item in seg.SegmentSequence}
    assert sorted(segments) == list(range(1, len(values) + 1))
    by_value = {}
    for number, value in zip(sorted(segments), values):
        item = segments[number]
        text, code, meaning = segment_code(classes[value])
        coded = item.SegmentedPropertyTypeCodeSequence[0]
        assert (item.SegmentLabel, coded.CodeValue, coded.CodingSchemeDesignator, coded.CodeMeaning) == (
            text,
            code,
            "SCT",
            meaning,
        )
        by_value[number] = value
    read_back = seg_volume_on_series(seg, series.shape, series.affine)
    lookup = np.zeros(max(by_value, default=0) + 1, dtype=np.uint8)
    for number, value in by_value.items():
        lookup[number] = value
    np.testing.assert_array_equal(lookup[read_back], expected)
    assert seg.SeriesDescription == BUNDLE


def test_ohif_lists_and_opens_the_study_in_headless_chromium(
    server: Server, orthanc: Orthanc, series: DicomSeries, tmp_path: Path
) -> None:
    _require("chromium")
    study_uid = str(series.headers[0].StudyInstanceUID)

    study_list = _chromium(tmp_path, "--dump-dom", f"{server.url}/ohif/")
    assert study_uid in study_list, "OHIF's study list does not show the Orthanc study"

    viewer_url = f"{server.url}/ohif/viewer?StudyInstanceUIDs={study_uid}"
    viewer = _chromium(tmp_path, "--dump-dom", viewer_url)
    description = str(series.headers[0].SeriesDescription)
    assert description in viewer, f"OHIF's viewer does not list the series {description!r}"

    screenshot = tmp_path / "ohif.png"
    _chromium(tmp_path, f"--screenshot={screenshot}", viewer_url)
    image = np.asarray(Image.open(screenshot).convert("RGB"), dtype=np.float32)
    assert image.shape == (800, 1280, 3)
    viewport = image[150:650, 400:1150]  # the CT slice fills the middle of the viewport
    assert viewport.mean(-1).std() > 30, "the viewport holds no image"
    assert _coloured(viewport) == 0, "the CT alone should be grey"

    # the SEG that MONAI Label saved, hung over its CT by OHIF's segmentation protocol (a preview)
    (seg,) = orthanc.qido(f"studies/{study_uid}/series?Modality=SEG")
    seg_url = f"{viewer_url}&initialSeriesInstanceUID={seg['0020000E']['Value'][0]}&hangingProtocolId=@ohif/seg"
    assert "Do you want to open this Segmentation?" in _chromium(tmp_path, "--dump-dom", seg_url)
    seg_screenshot = tmp_path / "ohif_seg.png"
    _chromium(tmp_path, f"--screenshot={seg_screenshot}", seg_url)
    overlay = np.asarray(Image.open(seg_screenshot).convert("RGB"), dtype=np.float32)[150:650, 400:1150]
    if os.environ.get("DCA_MONAI_OHIF_SCREENSHOT"):
        target = os.environ["DCA_MONAI_OHIF_SCREENSHOT"]
        Image.open(seg_screenshot).convert("RGB").quantize(64).save(target, optimize=True)
    if SHIPPED and _coloured(overlay) <= 1000:  # the organs of the shipped model should be drawn over the slice
        # Known problem (2026-12-06, issue 16's note): with the 0.3.0 SEG, OHIF's preview drew no segment in 3 of
        # 4 runs (81 coloured pixels; the model labels 3,500-7,700 pixels of each slice). The SEG itself is checked
        # voxel for voxel above; this check is reported as an expected failure, loudly, until it is understood.
        pytest.xfail(f"OHIF's SEG preview drew {_coloured(overlay)} coloured pixels (expected > 1000): known problem")


def test_mixed_series_is_refused_with_the_reason(
    server: Server, orthanc: Orthanc, series: DicomSeries, app_dir: Path, tmp_path: Path
) -> None:
    # one Series Instance UID, two reconstructions: 5 instances at another pixel spacing
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    mixed_uid = pydicom.uid.generate_uid()
    for index, file in enumerate(series.files):
        dataset = pydicom.dcmread(file)
        dataset.SeriesInstanceUID = mixed_uid
        dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
        if index >= 15:
            dataset.PixelSpacing = [0.8, 0.8]
        dataset.save_as(mixed / f"{index:03d}.dcm")
    orthanc.script("load", str(mixed), "--port", str(orthanc.port))

    status, body = _http_error(lambda: server.request("POST", f"/infer/{BUNDLE}?image={mixed_uid}&output=image"))
    assert status == 422, body
    detail = json.loads(body)["detail"]
    assert mixed_uid in detail and orthanc.dicomweb in detail and "PixelSpacing" in detail, detail
    assert not list(app_dir.parent.glob(f"dicomweb-cache/*/{mixed_uid}*")), "the refused series was cached"
    assert not list(app_dir.parent.glob(f"dicomweb-cache/*/.{mixed_uid}*")), "a partial download was left"


def test_stow_rejection_keeps_the_label_and_says_so(
    server: Server, orthanc: Orthanc, label_file: Path, series: DicomSeries, tmp_path: Path
) -> None:
    series_uid = str(series.headers[0].SeriesInstanceUID)
    lua = tmp_path / "refuse_seg.lua"
    lua.write_text(REFUSE_SEG_LUA)
    before = len(orthanc.qido("series?Modality=SEG"))
    orthanc.stop()
    orthanc.start(lua)
    try:
        status, body = _http_error(lambda: _save_final(server, series_uid, label_file))
        assert status == 502, body
        detail = json.loads(body)["detail"]
        assert orthanc.dicomweb in detail and "kept" in detail, detail
        kept = server.request("GET", f"/datastore/label?label={series_uid}&tag=final_unsent")
        assert kept == label_file.read_bytes()
        assert len(orthanc.qido("series?Modality=SEG")) == before
    finally:
        orthanc.stop()
        orthanc.start()


def test_orthanc_down_gives_a_clear_error(server: Server, orthanc: Orthanc, app_dir: Path, tmp_path: Path) -> None:
    unknown = f"2.25.{uuid.uuid4().int}"
    orthanc.stop()
    try:
        status, body = _http_error(lambda: server.request("POST", f"/infer/{BUNDLE}?image={unknown}&output=image"))
        assert status == 503, body
        detail = json.loads(body)["detail"]
        assert orthanc.dicomweb in detail and "did not answer" in detail, detail
        assert not list(app_dir.parent.glob(f"dicomweb-cache/*/*{unknown}*")), "a partial download was left"

        # a server started while the PACS is down stops at once and names the URL
        started = subprocess.run(
            ["bash", str(SCRIPT), "--app-dir", str(app_dir), "--bundles", BUNDLE, "--pacs", orthanc.dicomweb]
            + ["--port", str(free_port())],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        output = started.stdout + started.stderr
        assert started.returncode != 0, output[-3000:]
        assert f"PACS at {orthanc.dicomweb} did not answer" in output, output[-3000:]
    finally:
        orthanc.start()


def _save_final(server: Server, image: str, label: Path) -> dict:
    """``PUT /datastore/label`` (tag final), the multipart form OHIF's MONAI Label plugin sends."""
    boundary = uuid.uuid4().hex
    params = json.dumps({"label_info": [{"model_name": BUNDLE}]})
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="params"\r\n\r\n{params}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="label"; filename="label.nii.gz"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + label.read_bytes()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    answer = server.request(
        "PUT",
        f"/datastore/label?image={image}&tag=final",
        data=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    return json.loads(answer)


def _coloured(pixels: np.ndarray) -> int:
    """How many ``(..., 3)`` RGB pixels are clearly not grey (a segment drawn over the CT)."""
    return int(((pixels.max(-1) - pixels.min(-1)) > 60).sum())


def _chromium(tmp_path: Path, *args: str) -> str:
    """Headless Chromium with a fresh profile, virtual time for OHIF to load; its stdout."""
    profile = tmp_path / f"chromium-{uuid.uuid4().hex[:8]}"
    done = subprocess.run(
        ["chromium", *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=60000", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout
