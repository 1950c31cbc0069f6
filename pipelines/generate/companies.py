"""The true companies of the sample world: hidden value, firmographics, names, groups, USCCs.

One row per real company (not per CRM record: duplicate records are added later in
``records.py``). Everything is vectorised over companies.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipelines.generate import names
from pipelines.generate.reference import INDUSTRIES, PROVINCES
from pipelines.generate.uscc import make_uscc

# Median yearly net revenue of a customer, CNY. The spread (sigma of log value ~1.75) is what
# makes roughly 20% of paying customers bring roughly 80% of revenue.
MEDIAN_VALUE_CNY = 60_000.0

_EAST = {"浙江省", "江苏省", "上海市", "安徽省", "福建省", "山东省", "江西省"}
_SOUTH = {"广东省", "广西壮族自治区", "海南省", "湖南省"}
_NORTH = {
    "北京市",
    "天津市",
    "河北省",
    "山西省",
    "内蒙古自治区",
    "辽宁省",
    "吉林省",
    "黑龙江省",
    "河南省",
}


def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function, elementwise."""
    return 1.0 / (1.0 + np.exp(-x))


def _standardise(x: np.ndarray) -> np.ndarray:
    std = x.std()
    return (x - x.mean()) / (std if std > 0 else 1.0)


def _city_table() -> pd.DataFrame:
    rows = []
    for province, short, weight, cities in PROVINCES:
        for city, division, area in cities:
            rows.append(
                (
                    province,
                    short,
                    city,
                    city.removesuffix("市"),
                    division,
                    area,
                    weight / len(cities),
                )
            )
    table = pd.DataFrame(
        rows,
        columns=[
            "province",
            "province_short",
            "city",
            "city_short",
            "division",
            "area_code",
            "weight",
        ],
    )
    table["weight"] /= table["weight"].sum()
    return table


def _firmographics(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """Industry, place, size, revenue, hidden value and propensity of ``n`` companies."""
    cities = _city_table()
    industry_idx = rng.choice(len(INDUSTRIES), size=n, p=_industry_weights())
    city_idx = rng.choice(len(cities), size=n, p=cities["weight"].to_numpy())
    log_emp = rng.normal(3.3, 1.4, size=n)
    employees = np.clip(np.round(np.exp(log_emp)), 1, 300_000).astype(np.int64)
    rpe = np.array([ind.revenue_per_employee for ind in INDUSTRIES])[industry_idx]
    revenue = employees * rpe * rng.lognormal(0.0, 0.5, size=n)
    # CRM users type round numbers for the company's own revenue.
    revenue = np.maximum(np.round(revenue / 10_000.0) * 10_000.0, 10_000.0)
    value_offset = np.array([ind.value_offset for ind in INDUSTRIES])[industry_idx]
    log_value = (
        np.log(MEDIAN_VALUE_CNY)
        + 0.95 * (log_emp - 3.3)
        + rng.normal(0.0, 1.15, size=n)
        + value_offset
    )
    z_value = _standardise(log_value)
    prop_raw = 0.5 * z_value + rng.normal(0.0, 0.87, size=n)
    size_fit = np.select(
        [employees < 10, employees < 50, employees < 500], [-0.4, 0.0, 0.3], default=0.2
    )
    co = pd.DataFrame(
        {
            "industry_idx": industry_idx,
            "employees": employees,
            "annual_revenue_cny": revenue,
            "log_value": log_value,
            "true_value": np.exp(log_value),
            "z_value": z_value,
            "propensity": sigmoid(prop_raw - 0.3),
            "z_prop": _standardise(prop_raw),
            "fit": np.array([ind.fit for ind in INDUSTRIES])[industry_idx] + size_fit,
            "risk_z": rng.normal(0.0, 1.0, size=n),
        }
    )
    for col in ["province", "province_short", "city", "city_short", "division", "area_code"]:
        co[col] = cities[col].to_numpy()[city_idx]
    return co


def build_companies(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """Draw ``n`` true companies with hidden value, propensity and firmographics.

    Columns: industry_idx, province, province_short, city, city_short, division, area_code,
    employees, annual_revenue_cny, log_value, true_value, z_value, propensity, z_prop, fit,
    risk_z, brand, word, suffix, name, parent (company index or -1), group_depth,
    similar_pair (index of the look-alike company or -1), uscc, owner_team.
    """
    co = _firmographics(rng, n)
    co["brand"] = names.brands(rng, n)
    co["word_pick"] = rng.integers(0, 12, size=n)
    big = co["employees"].to_numpy() >= 500
    co["suffix"] = np.where(
        rng.random(n) < np.where(big, 0.5, 0.12), "股份有限公司", "有限公司"
    ).astype(object)
    # Name form: 0 = 杭州云启科技有限公司, 1 = 浙江云启科技有限公司, 2 = 云启（杭州）科技有限公司.
    co["form"] = rng.choice(3, size=n, p=[0.85, 0.08, 0.07])
    _assign_groups(rng, co)
    _assign_similar_pairs(rng, co)
    co["word"] = ""
    co["name"] = ""
    names.compose_names(co)
    names.make_names_unique(rng, co)
    co["uscc"] = _unique_usccs(rng, co["division"].to_numpy())
    co["owner_team"] = _owner_team(rng, co)
    return co.drop(columns=["word_pick"])


def _industry_weights() -> np.ndarray:
    w = np.array([ind.weight for ind in INDUSTRIES])
    return w / w.sum()


def _assign_groups(rng: np.random.Generator, co: pd.DataFrame) -> None:
    """Put ~5% of companies into groups (集团): a root, children and grandchildren (depth <= 3).

    Children share the root's brand, which is how group companies are recognisable by name.
    """
    n = len(co)
    co["parent"] = -1
    co["group_depth"] = 0
    co["is_group_root"] = False
    co["group_root"] = -1
    n_roots = int(round(0.012 * n))
    n_members = int(round(0.038 * n))
    if n_roots == 0 or n_members == 0:
        return
    weights = np.sqrt(co["employees"].to_numpy().astype(float))
    roots = rng.choice(n, size=n_roots, replace=False, p=weights / weights.sum())
    others = np.setdiff1d(np.arange(n), roots)
    members = rng.choice(others, size=min(n_members, len(others)), replace=False)
    group_of = rng.integers(0, n_roots, size=len(members))
    level = np.where(rng.random(len(members)) < 0.65, 1, 2)

    parent = np.full(len(members), -1)
    parent[level == 1] = roots[group_of[level == 1]]
    # A grandchild hangs under a random child of the same group; without one it becomes a child.
    lvl1_members = members[level == 1]
    lvl1_groups = group_of[level == 1]
    order = np.lexsort((lvl1_members, lvl1_groups))
    lvl1_members, lvl1_groups = lvl1_members[order], lvl1_groups[order]
    uniq, starts, counts = np.unique(lvl1_groups, return_index=True, return_counts=True)
    g2 = group_of[level == 2]
    pos = np.searchsorted(uniq, g2)
    has_child = (pos < len(uniq)) & (uniq[np.minimum(pos, len(uniq) - 1)] == g2)
    pick = roots[g2]
    if has_child.any():
        p = pos[has_child]
        pick[has_child] = lvl1_members[starts[p] + rng.integers(0, counts[p])]
    parent[level == 2] = pick
    depth = np.ones(len(members), dtype=np.int64)
    depth[level == 2] = np.where(has_child, 2, 1)

    co.loc[roots, "is_group_root"] = True
    co.loc[roots, "group_root"] = roots
    co.loc[members, "group_root"] = roots[group_of]
    co.loc[members, "parent"] = parent
    co.loc[members, "group_depth"] = depth
    co.loc[members, "brand"] = co["brand"].to_numpy()[roots[group_of]]
    # Members often carry "brand（city）" style names; roots are named after the province.
    co.loc[members, "form"] = rng.choice([0, 2], size=len(members), p=[0.6, 0.4])
    co.loc[roots, "form"] = 3
    co.loc[roots, "suffix"] = rng.choice(
        np.array(["控股集团有限公司", "集团有限公司", "集团股份有限公司"], dtype=object),
        size=n_roots,
    )


def _assign_similar_pairs(rng: np.random.Generator, co: pd.DataFrame) -> None:
    """Make ~1% of companies look-alikes of another company in the same city.

    E.g. 杭州云启科技有限公司 vs 杭州云启信息技术有限公司: same brand and city, different industry
    word and a different USCC. They are different companies and must never be merged.
    """
    n = len(co)
    co["similar_pair"] = -1
    free = np.flatnonzero((co["parent"].to_numpy() < 0) & ~co["is_group_root"].to_numpy())
    n_pairs = int(round(0.01 * n))
    if n_pairs == 0 or len(free) < 2 * n_pairs:
        return
    chosen = rng.choice(free, size=2 * n_pairs, replace=False)
    a, b = chosen[:n_pairs], chosen[n_pairs:]
    for col in [
        "province",
        "province_short",
        "city",
        "city_short",
        "division",
        "area_code",
        "brand",
    ]:
        co.loc[b, col] = co[col].to_numpy()[a]
    co.loc[a, "form"] = 0
    co.loc[b, "form"] = 0
    co.loc[a, "similar_pair"] = b
    co.loc[b, "similar_pair"] = a


def _unique_usccs(rng: np.random.Generator, divisions: np.ndarray) -> np.ndarray:
    codes = make_uscc(rng, divisions)
    for _ in range(10):
        dup = pd.Series(codes).duplicated().to_numpy()
        if not dup.any():
            break
        codes[dup] = make_uscc(rng, divisions[dup])
    return codes


def _owner_team(rng: np.random.Generator, co: pd.DataFrame) -> np.ndarray:
    province = co["province"].to_numpy()
    region = np.select(
        [
            np.isin(province, list(_EAST)),
            np.isin(province, list(_SOUTH)),
            np.isin(province, list(_NORTH)),
        ],
        ["华东", "华南", "华北"],
        default="西部",
    )
    big = co["employees"].to_numpy() >= 300
    team = np.where(big, np.char.add(region, "大客户部"), np.char.add(region, "中小企业部"))
    team = np.where(region == "西部", "西部区域部", team)
    u = rng.random(len(co))
    team = np.where(u < 0.08, "渠道合作部", np.where(u < 0.13, "电话销售部", team))
    return team.astype(object)
