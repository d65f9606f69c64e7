"""Lab names end up in bridge, interface and namespace names: only whole, short, plain names pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from itpm.errors import LabError
from itpm.lab.fleet import lab_up
from itpm.settings import Settings


@pytest.mark.parametrize("name", ["lab\n", "Lab", "1lab", "labnamestoolong", "lab;rm", ""])
def test_a_lab_name_that_is_not_a_plain_short_name_is_refused_before_anything_is_made(
    name: str, tmp_path: Path
) -> None:
    with pytest.raises(LabError, match="is not usable"):
        lab_up(Settings(state_dir=tmp_path), name=name, count=3)
    assert list(tmp_path.iterdir()) == []
