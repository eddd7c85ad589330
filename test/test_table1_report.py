"""Table 1 at one budget from a finished run: the rows it reads, the means over the rain sets, and the
paper's claims checked on them."""

from __future__ import annotations

import pytest
from train_fixtures import FAST, tiny_dataset

from train.run import main as run_main
from train.table1_report import claims, main, means


def _column(psnr: float, miou: float, worse: int) -> dict[str, float]:
    return {"psnr_rgb": psnr, "miou": miou, "worse_than_input": worse}


def test_means_average_each_metric_over_the_sets_and_sum_the_frames_worse() -> None:
    per_set = {
        "car": {"A/C": _column(30.0, 60.0, 2), "Rainy": {"psnr_rgb": 27.0, "miou": 55.0}},
        "pane": {"A/C": _column(24.0, 50.0, 0), "Rainy": {"psnr_rgb": 21.0, "miou": 45.0}},
    }
    mean = means(per_set)
    assert mean["A/C"] == {"psnr_rgb": 27.0, "miou": 55.0, "worse_than_input": 2}
    assert mean["Rainy"] == {"psnr_rgb": 24.0, "miou": 50.0}  # no 'worse' for the input itself


def test_claims_say_holds_or_not_from_the_numbers() -> None:
    shape = {  # the paper's shape: R helps, OJT costs PSNR, TJT keeps PSNR and has the best mIoU
        "A/C": _column(30.0, 60.0, 0),
        "A/C+OJT": _column(29.0, 60.5, 0),
        "A/C/R": _column(30.5, 60.1, 0),
        "A/C/R+OJT": _column(29.5, 60.6, 0),
        "A/C/R+TJT": _column(30.4, 61.0, 0),
    }
    assert all(line.startswith("- holds") for line in claims(shape))
    shape["A/C/R+TJT"] = _column(29.0, 59.0, 0)  # TJT below OJT in PSNR and below A/C in mIoU
    # in order: R helps, OJT costs PSNR, TJT >= OJT in PSNR, TJT >= A/C in mIoU, TJT best mIoU
    assert [line.startswith("- holds") for line in claims(shape)] == [True, True, False, False, False]
    shape |= {"DuRN": _column(28.0, 58.0, 0), "DuRN+R+TJT": _column(28.1, 58.4, 0)}  # R + TJT behind a baseline
    assert claims(shape)[-1].startswith("- holds: DuRN+R+TJT above DuRN in mIoU (58.40 vs 58.00 %")
    shape["DuRN+R+TJT"] = _column(28.5, 58.0, 0)
    assert claims(shape)[-1].startswith("- does not hold: DuRN+R+TJT above DuRN")


def test_report_scores_every_row_on_every_set_from_a_run_and_its_variants(
    tmp_path_factory: pytest.TempPathFactory, capsys
) -> None:
    data = tiny_dataset(tmp_path_factory, 10)
    run, variants = tmp_path_factory.mktemp("run"), tmp_path_factory.mktemp("variants")
    common = ["--config", "smoke", f"data.root={data}", *FAST, "optim.epochs=1", "optim.steps_per_epoch=2"]
    assert run_main(["--stage", "0", *common, f"run.out={run}", "stage0.epochs=1", "stage0.steps_per_epoch=2"]) == 0
    s0, s1 = run / "stage0" / "last.pt", run / "stage1" / "last.pt"
    assert run_main(["--stage", "1", *common, f"run.out={run}", f"init.stage0={s0}"]) == 0
    assert main(["--run", str(run), "--variants", str(variants), "--eval-data", f"a={data}", "--out", str(run)]) == 2
    assert "stage2" in capsys.readouterr().err  # names what is missing before any scoring
    warm = [f"init.stage0={s0}", f"init.stage1={s1}"]
    assert (
        run_main(["--stage", "2", *common, f"run.out={run}", *warm, "stage2.epochs=2", "stage2.steps_per_epoch=2"]) == 0
    )
    for variant in ("A/C+OJT", "A/C/R", "A/C/R+OJT", "DuRN+R+TJT"):
        assert run_main(["--variant", variant, *common, f"run.out={variants}", *warm]) == 0
    out = tmp_path_factory.mktemp("report")
    args = ["--run", str(run), "--variants", str(variants), "--eval-data", f"wet={data}", f"again={data}"]
    assert main([*args, "--out", str(out), "--limit", "2"]) == 0
    report = (out / "REPORT.md").read_text()
    assert "A/C+OJT 1 epochs at lr" in report and "A/C/R+TJT 2 epochs at lr" in report  # each row's own section
    assert "## Means over the sets" in report and "## wet" in report and "## again" in report
    header = next(line for line in report.splitlines() if line.startswith("| |"))
    for column in ("Rainy", "A/C", "A/C+OJT", "A/C/R", "A/C/R+OJT", "A/C/R+TJT", "DuRN", "DuRN+R+TJT"):
        assert f"| {column} |" in header
    assert "| paper: PSNR (Y) / mIoU | 23.23 / 34.50 | 33.88 / 66.60 |" in report
    assert sum(line.startswith("- holds") or line.startswith("- does not hold") for line in report.splitlines()) == 6
    assert "DuRN+R+TJT above DuRN in mIoU" in report and "DuRN+R+TJT 4 epochs at lr" in report  # stage 2's budget
