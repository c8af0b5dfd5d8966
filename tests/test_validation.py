"""Every input error: the message names file/table, row, column or key, and a fix.

Each test breaks a valid instance in one way and checks the problem list.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import optimizer
from tests.helpers import base_instance, write_instance


def problems(folder: Path) -> list[optimizer.Problem]:
    with pytest.raises(optimizer.InstanceError) as info:
        optimizer.build(folder)
    return info.value.problems


def one(folder: Path) -> optimizer.Problem:
    probs = problems(folder)
    assert len(probs) == 1, [str(p) for p in probs]
    return probs[0]


def test_valid_base_instance_loads(tmp_path: Path) -> None:
    inst = optimizer.load(write_instance(tmp_path, base_instance()))
    assert len(inst.tables["plants"]) == 1
    assert inst.name == tmp_path.name  # default name = folder name


def test_unknown_top_level_key(tmp_path: Path) -> None:
    p = one(write_instance(tmp_path, base_instance(horizon_yaers=5)))
    assert p.where == "instance.yaml" and p.column == "horizon_yaers"
    assert "unknown key" in p.message and "horizon_years" in p.fix


def test_unknown_nested_key(tmp_path: Path) -> None:
    p = one(write_instance(tmp_path, base_instance(solver={"time_limit": 5})))
    assert p.column == "solver.time_limit" and "time_limit_s" in p.fix


def test_setting_out_of_range(tmp_path: Path) -> None:
    p = one(write_instance(tmp_path, base_instance(discount_rate=1.5)))
    assert p.column == "discount_rate" and "1.5" in p.message


def test_plants_kept_min_above_max(tmp_path: Path) -> None:
    p = one(write_instance(tmp_path, base_instance(plants_kept={"min": 3, "max": 1})))
    assert p.column == "plants_kept" and "min (3) is greater than max (1)" in p.message


def test_bad_duty_basis(tmp_path: Path) -> None:
    p = one(write_instance(tmp_path, base_instance(duty_basis="ddp")))
    assert p.column == "duty_basis" and "cif" in p.message


def test_unknown_table(tmp_path: Path) -> None:
    cfg = base_instance()
    cfg["tables"]["plant"] = []
    p = one(write_instance(tmp_path, cfg))
    assert p.column == "tables.plant" and "plants" in p.fix


def test_missing_required_table(tmp_path: Path) -> None:
    cfg = base_instance()
    del cfg["tables"]["freight"]
    p = one(write_instance(tmp_path, cfg))
    assert "required table 'freight'" in p.message and p.column == "tables.freight"


def test_csv_file_not_found(tmp_path: Path) -> None:
    cfg = base_instance()
    cfg["tables"]["plants"] = "nope.csv"
    with pytest.raises(optimizer.InstanceLoadError) as info:
        optimizer.load(write_instance(tmp_path, cfg))
    (p,) = info.value.problems
    assert "nope.csv" in p.message and p.column == "tables.plants"


def test_path_outside_folder(tmp_path: Path) -> None:
    (tmp_path / "secret.csv").write_text("plant\nX\n")
    cfg = base_instance()
    cfg["tables"]["plants"] = "../secret.csv"
    p = one(write_instance(tmp_path / "inst", cfg))
    assert "leaves the instance folder" in p.message


def test_absolute_path_rejected(tmp_path: Path) -> None:
    cfg = base_instance()
    cfg["tables"]["plants"] = "/etc/passwd"
    p = one(write_instance(tmp_path, cfg))
    assert "leaves the instance folder" in p.message


def test_yaml_tag_never_constructs_objects(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    tmp_path.joinpath("instance.yaml").write_text(
        f"name: !!python/object/apply:os.system ['touch {marker}']\n")
    with pytest.raises(optimizer.InstanceLoadError) as info:
        optimizer.load(tmp_path)
    assert not marker.exists()
    assert "not valid YAML" in info.value.problems[0].message


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    tmp_path.joinpath("instance.yaml").write_text("horizon_years: 2\nhorizon_years: 3\n")
    with pytest.raises(optimizer.InstanceLoadError) as info:
        optimizer.load(tmp_path)
    assert "duplicate key 'horizon_years'" in str(info.value)


def test_yaml_syntax_error(tmp_path: Path) -> None:
    tmp_path.joinpath("instance.yaml").write_text("tables: [unclosed\n")
    with pytest.raises(optimizer.InstanceLoadError):
        optimizer.load(tmp_path)


def test_not_a_folder(tmp_path: Path) -> None:
    with pytest.raises(optimizer.InstanceLoadError):
        optimizer.load(tmp_path / "missing")


def test_unknown_column(tmp_path: Path) -> None:
    cfg = base_instance()
    cfg["tables"]["models"] = [{"model": "V1", "powertrain": "BEV", "colour": "red"}]
    p = one(write_instance(tmp_path, cfg))
    assert p.table == "models" and p.column == "colour" and "powertrain" in p.fix


def test_missing_required_column_csv(tmp_path: Path) -> None:
    cfg = base_instance()
    del cfg["tables"]["plants"]
    folder = write_instance(tmp_path, cfg, {"plants": [{"plant": "P1", "country": "JP", "capacity": 100,
                                                       "fixed_cost": 50, "headcount": 1}]})
    p = one(folder)
    assert p.where == "plants.csv" and p.table == "plants" and p.column == "closure_cost"
    assert "missing" in p.message


def test_not_a_number_names_csv_line(tmp_path: Path) -> None:
    cfg = base_instance()
    del cfg["tables"]["freight"]
    folder = write_instance(tmp_path, cfg, {"freight": [{"plant": "P1", "market": "M1", "unit_cost": "five"}]})
    p = one(folder)
    assert (p.where, p.table, p.row, p.column) == ("freight.csv", "freight", 2, "unit_cost")
    assert "'five' is not a finite number" in p.message


def test_negative_capacity(tmp_path: Path) -> None:
    cfg = base_instance()
    cfg["tables"]["plants"][0]["capacity"] = -5
    p = one(write_instance(tmp_path, cfg))
    assert p.column == "capacity" and p.row == 1 and ">= 0" in p.message


def test_negative_rate(tmp_path: Path) -> None:
    cfg = base_instance(tables={"tariffs": [{"origin": "*", "market": "M1", "powertrain": "*", "ad_valorem": -0.1}]})
    p = one(write_instance(tmp_path, cfg))
    assert p.table == "tariffs" and p.column == "ad_valorem"


def test_missing_required_value(tmp_path: Path) -> None:
    cfg = base_instance()
    cfg["tables"]["demand"][0]["price"] = None
    p = one(write_instance(tmp_path, cfg))
    assert p.column == "price" and "missing" in p.message


def test_bad_enum_value(tmp_path: Path) -> None:
    cfg = base_instance()
    cfg["tables"]["plants"][0]["status"] = "shut"
    p = one(write_instance(tmp_path, cfg))
    assert p.column == "status" and "free, keep, close" in p.fix


def test_enum_is_case_insensitive(tmp_path: Path) -> None:
    cfg = base_instance()
    cfg["tables"]["models"][0]["powertrain"] = "bev"
    inst = optimizer.load(write_instance(tmp_path, cfg))
    assert inst.tables["models"]["powertrain"].tolist() == ["BEV"]


def test_bad_boolean(tmp_path: Path) -> None:
    cfg = base_instance(tables={"software": [{"model": "V1", "stack": "S", "origin": "JP", "dev_cost": 0,
                                              "unit_cost": 0, "default": "maybe"}]})
    p = one(write_instance(tmp_path, cfg))
    assert p.table == "software" and p.column == "default" and "true or false" in p.fix


def test_duplicate_key_rows(tmp_path: Path) -> None:
    cfg = base_instance()
    cfg["tables"]["freight"].append({"plant": "P1", "market": "M1", "unit_cost": 7})
    p = one(write_instance(tmp_path, cfg))
    assert p.table == "freight" and "duplicate key" in p.message and "[1, 2]" in p.message


def test_unknown_plant_reference(tmp_path: Path) -> None:
    cfg = base_instance()
    cfg["tables"]["production"].append({"plant": "P9", "model": "V1", "unit_cost": 1})
    p = one(write_instance(tmp_path, cfg))
    assert (p.table, p.row, p.column) == ("production", 2, "plant") and "P9" in p.message
    assert "P1" in p.fix


def test_unknown_market_and_model_references_all_reported(tmp_path: Path) -> None:
    cfg = base_instance()
    cfg["tables"]["demand"].append({"model": "V7", "market": "M7", "price": 1, "max_units": 1})
    cfg["tables"]["freight"].append({"plant": "P1", "market": "M8", "unit_cost": 1})
    probs = problems(write_instance(tmp_path, cfg))
    got = {(p.table, p.column) for p in probs}
    assert got == {("demand", "model"), ("demand", "market"), ("freight", "market")}


def test_tariff_unknown_market(tmp_path: Path) -> None:
    cfg = base_instance(tables={"tariffs": [{"origin": "*", "market": "XX", "powertrain": "*", "ad_valorem": 0.1}]})
    p = one(write_instance(tmp_path, cfg))
    assert p.table == "tariffs" and p.column == "market"


def test_tariff_unknown_powertrain(tmp_path: Path) -> None:
    cfg = base_instance(tables={"tariffs": [{"origin": "*", "market": "*", "powertrain": "EV", "ad_valorem": 0.1}]})
    p = one(write_instance(tmp_path, cfg))
    assert p.column == "powertrain"


def test_min_units_above_max_units(tmp_path: Path) -> None:
    cfg = base_instance()
    cfg["tables"]["demand"][0]["min_units"] = 20
    p = one(write_instance(tmp_path, cfg))
    assert p.table == "demand" and p.column == "min_units" and "min_units (20) > max_units (10)" in p.message


def test_ambiguous_tariffs(tmp_path: Path) -> None:
    cfg = base_instance()
    cfg["tables"]["markets"].append({"market": "M2", "country": "TH"})
    cfg["tables"]["demand"].append({"model": "V1", "market": "M2", "price": 100, "max_units": 5})
    cfg["tables"]["freight"].append({"plant": "P1", "market": "M2", "unit_cost": 5})
    cfg["tables"]["tariffs"] = [
        {"origin": "JP", "market": "*", "powertrain": "BEV", "ad_valorem": 0.1},
        {"origin": "*", "market": "M2", "powertrain": "BEV", "ad_valorem": 0.2},
    ]
    p = one(write_instance(tmp_path, cfg))
    assert p.table == "tariffs" and "rows [1, 2] are equally specific" in p.message
    assert "origin=JP, market=M2, powertrain=BEV" in p.message


def test_equally_specific_rows_without_a_common_flow_are_fine(tmp_path: Path) -> None:
    # (JP, *, BEV) and (*, M2, BEV) would tie only on flows JP -> M2; M1 is domestic, M2 unused.
    cfg = base_instance(tables={"tariffs": [
        {"origin": "JP", "market": "*", "powertrain": "BEV", "ad_valorem": 0.1},
        {"origin": "*", "market": "M1", "powertrain": "BEV", "ad_valorem": 0.2},
    ]})
    assert optimizer.solve(write_instance(tmp_path, cfg)).status == "optimal"


def test_all_problems_reported_together(tmp_path: Path) -> None:
    cfg = base_instance(horizon_yaers=3)
    cfg["tables"]["plants"][0]["capacity"] = -1
    cfg["tables"]["models"][0]["powertrain"] = "steam"
    probs = problems(write_instance(tmp_path, cfg))
    assert {p.column for p in probs} == {"horizon_yaers", "capacity", "powertrain"}


def test_problem_text_names_everything(tmp_path: Path) -> None:
    cfg = base_instance()
    del cfg["tables"]["freight"]
    folder = write_instance(tmp_path, cfg, {"freight": [{"plant": "P1", "market": "M1", "unit_cost": -3}]})
    text = str(one(folder))
    assert text.startswith("freight.csv, table 'freight', row 2, column 'unit_cost':")
    assert "Fix:" in text


def test_warning_for_unreachable_plants_kept(tmp_path: Path) -> None:
    folder = write_instance(tmp_path, base_instance(plants_kept={"min": 2}))
    res = optimizer.solve(folder)
    assert res.status == "infeasible"
    assert any(w.column == "plants_kept.min" for w in res.warnings)


def test_plants_kept_integer_means_exactly(tmp_path: Path) -> None:
    inst = optimizer.load(write_instance(tmp_path, base_instance(plants_kept=1)))
    assert (inst.settings.plants_kept.min, inst.settings.plants_kept.max) == (1, 1)


def test_csv_row_with_extra_fields(tmp_path: Path) -> None:
    cfg = base_instance()
    del cfg["tables"]["freight"]
    folder = write_instance(tmp_path, cfg)
    (folder / "freight.csv").write_text("plant,market,unit_cost\nP1,M1,5,oops\n")
    cfg_text = (folder / "instance.yaml").read_text()
    assert "freight" not in cfg_text  # read from freight.csv by convention
    p = one(folder)
    assert (p.where, p.row) == ("freight.csv", 2) and "4 fields but the header has 3" in p.message


def test_csv_with_utf8_bom(tmp_path: Path) -> None:
    cfg = base_instance()
    del cfg["tables"]["freight"]
    folder = write_instance(tmp_path, cfg)
    (folder / "freight.csv").write_bytes(b"\xef\xbb\xbfplant,market,unit_cost\nP1,M1,5\n")
    assert optimizer.solve(folder).objective == pytest.approx(10 * 35 - 50)


def test_table_of_wrong_shape(tmp_path: Path) -> None:
    cfg = base_instance()
    cfg["tables"]["plants"] = {"plant": "P1"}
    p = one(write_instance(tmp_path, cfg))
    assert p.column == "tables.plants" and "CSV path or a list of records" in p.message


def test_records_that_are_not_mappings(tmp_path: Path) -> None:
    cfg = base_instance()
    cfg["tables"]["plants"] = [1, 2]
    p = one(write_instance(tmp_path, cfg))
    assert p.column == "tables.plants"


def test_empty_referenced_table(tmp_path: Path) -> None:
    cfg = base_instance()
    cfg["tables"]["models"] = []
    probs = problems(write_instance(tmp_path, cfg))
    assert probs and all("has no rows" in p.fix for p in probs if p.column == "model")


@pytest.mark.parametrize("table", ["plants", "production", "demand", "freight", "tariffs", "export_channels"])
def test_the_vectorised_screen_never_passes_a_table_pandera_rejects(table: str) -> None:
    """_passes_checks skips pandera for clean tables: on random tables with missing values, values
    at and beyond every bound and duplicate keys, 'passes' must imply that pandera passes it too
    (and it must pass the clean tables, or the screen would save nothing)."""
    import numpy as np
    import pandas as pd
    import pandera.pandas as pa

    from optimizer.data.instance import _pandera_schema, _passes_checks
    from optimizer.data.schema import TABLES

    spec = TABLES[table]
    schema = _pandera_schema(spec)
    rng = np.random.default_rng(7)
    passed = {True: 0, False: 0}
    for trial in range(120):
        n = int(rng.integers(1, 6))
        cols = {}
        for c in spec.columns:
            if c.ge is not None or c.gt is not None or c.le is not None:
                lo = c.ge if c.ge is not None else (c.gt if c.gt is not None else -5.0)
                hi = c.le if c.le is not None else lo + 10.0
                pool = [lo, hi, lo + 1e-9 if hi > lo else lo, (lo + hi) / 2, lo - 1.0, hi + 1.0, np.nan]
                vals = rng.choice(pool if trial % 3 == 0 else pool[:4], n)
            else:
                vals = rng.choice(["a", "b", "c"] if trial % 2 else ["a", "b", "c", "d", "e", "f", "g"], n)
                if trial % 5 == 0:
                    vals = np.where(rng.random(n) < 0.3, None, vals)
            cols[c.name] = vals
        df = pd.DataFrame(cols)
        try:
            schema.validate(df, lazy=True)
            ok = True
        except pa.errors.SchemaErrors:
            ok = False
        screen = _passes_checks(df, spec)
        assert not (screen and not ok), (table, df)
        passed[ok] += 1
        if ok:
            assert screen, (table, df)
    assert passed[True] and passed[False]
