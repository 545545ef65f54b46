"""The README's Python example runs as written (with a real DynUNet checkpoint in the working folder)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from monai.networks.nets import DynUNet

README = Path(__file__).resolve().parents[1] / "README.md"


def test_ten_line_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    example = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)[0]
    assert len(example.strip().splitlines()) <= 12
    parent = DynUNet(3, 1, 4, kernel_size=[3] * 5, strides=[1, 2, 2, 2, 2], upsample_kernel_size=[2] * 4)
    torch.save(parent.state_dict(), tmp_path / "dynunet.pt")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(example.replace("96, 96, 96)", "32, 32, 32)"), "README.md", "exec"), namespace)
    assert [r.shape for r in namespace["refined"]] == [s.shape for s in namespace["skips"]]
    assert namespace["missing"] and all(key.startswith("dca.") for key in namespace["missing"])
    assert namespace["logits"].shape == (1, 4, 32, 32, 32)


DOCS = [README, *sorted((README.parent / "docs").glob("*.md")), *sorted(README.parent.glob("bundles/*/docs/*.md"))]


@pytest.mark.parametrize("page", DOCS, ids=lambda path: str(path.relative_to(README.parent)))
def test_relative_links_resolve(page: Path) -> None:
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text())
    broken = [t for t in targets if "://" not in t and not (page.parent / t).exists()]
    assert broken == []


def test_readme_is_read_to_the_end() -> None:
    # the README leads to docs/ pages; detail lives there
    assert len(README.read_text().splitlines()) <= 220


MODEL_CARDS = sorted(README.parent.glob("bundles/*/docs/README.md"))


@pytest.mark.parametrize("card", MODEL_CARDS, ids=lambda path: path.parts[-3])
def test_model_card_is_read_to_the_end(card: Path) -> None:
    # a card follows the model zoo's outline; commands both bundles share live in docs/bundles.md
    assert len(card.read_text().splitlines()) <= 200
