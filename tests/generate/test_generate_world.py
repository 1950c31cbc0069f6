"""Properties of the generated world (in memory): economics, lifecycle, dirt, ground truth."""

from __future__ import annotations

import re
from datetime import timedelta

import numpy as np
import pandas as pd

from pipelines.generate import World
from pipelines.generate.reference import INDUSTRIES
from pipelines.generate.uscc import is_valid_uscc
from tests.generate.conftest import AS_OF


def _net(orders: pd.DataFrame) -> pd.Series:
    return (orders["amount_cny"] - orders["refund_amount_cny"]).where(
        orders["status"] != "cancelled", 0.0
    )


def _primaries(world: World) -> pd.DataFrame:
    return world.truth_accounts[~world.truth_accounts["is_duplicate_record"]]


def test_top_fifth_of_paying_companies_makes_most_revenue(
    world: World, company_of: pd.Series
) -> None:
    orders = world.orders
    revenue = _net(orders).groupby(orders["account_id"].map(company_of)).sum()
    revenue = revenue[revenue > 0].sort_values(ascending=False)
    top = revenue.iloc[: int(len(revenue) * 0.2)].sum() / revenue.sum()
    assert 0.70 <= top <= 0.90, top
    paying_value = _primaries(world).query("true_segment != 'prospect'")["true_value"]
    paying_value = paying_value.sort_values(ascending=False)
    true_top = paying_value.iloc[: int(len(paying_value) * 0.2)].sum() / paying_value.sum()
    assert 0.70 <= true_top <= 0.90, true_top


def test_revenue_follows_true_value(world: World, company_of: pd.Series) -> None:
    orders = world.orders
    revenue = _net(orders).groupby(orders["account_id"].map(company_of)).sum()
    truth = _primaries(world).set_index("true_company_id")
    joined = truth.join(revenue.rename("revenue"), how="inner")
    rho = joined["revenue"].corr(joined["true_value"], method="spearman")
    assert rho > 0.6, rho


def test_refund_and_cancel_rates_in_band(world: World) -> None:
    share = world.orders["status"].value_counts(normalize=True)
    refunded = share.get("refunded", 0) + share.get("partially_refunded", 0)
    assert 0.03 <= refunded <= 0.05, refunded
    assert 0.02 <= share.get("cancelled", 0) <= 0.03, share
    o = world.orders
    assert (o["refund_amount_cny"] >= 0).all() and (o["refund_amount_cny"] <= o["amount_cny"]).all()
    full = o[o["status"] == "refunded"]
    assert (full["refund_amount_cny"] == full["amount_cny"]).all()
    partial = o[o["status"] == "partially_refunded"]
    assert (
        (partial["refund_amount_cny"] > 0) & (partial["refund_amount_cny"] < partial["amount_cny"])
    ).all()
    assert (o.loc[o["status"] == "completed", "refund_amount_cny"] == 0).all()


def test_no_future_rows_in_landing(world: World) -> None:
    cutoff = pd.Timestamp(AS_OF)
    frames = world.landing_frames()
    checks = {
        "crm_accounts": ["created_at", "updated_at"],
        "crm_contacts": ["created_at", "updated_at"],
        "crm_leads": ["created_at", "converted_at", "updated_at"],
        "crm_activities": ["occurred_at", "updated_at"],
        "orders": ["order_date", "updated_at"],
        "risk": ["as_of_date"],
        "surveys": ["survey_date"],
    }
    for entity, cols in checks.items():
        for col in cols:
            values = pd.to_datetime(frames[entity][col]).dropna()
            assert len(values) > 0, (entity, col)
            assert values.max() <= cutoff, (entity, col, values.max())
    # Every CRM record and order starts within the simulated period.
    assert pd.to_datetime(world.orders["order_date"]).min() >= cutoff - timedelta(days=3 * 365)


def test_future_lives_only_in_ground_truth(world: World) -> None:
    truth = _primaries(world)
    assert truth["future_orders_365d"].sum() > 0
    assert truth["future_net_revenue_365d"].sum() > 0
    # Churned companies stay silent; future churn means no orders in the next 365 days.
    churned = truth[truth["churned_before_as_of"]]
    assert (churned["future_orders_365d"] == 0).all()
    assert churned["future_churn"].all()
    assert (truth.loc[truth["future_churn"], "future_orders_365d"] == 0).all()
    active = truth[(truth["true_segment"] != "prospect") & ~truth["churned_before_as_of"]]
    assert 0.03 <= active["future_churn"].mean() <= 0.30
    assert (truth.loc[truth["true_segment"] == "prospect", "future_churn"] == False).all()  # noqa: E712


def test_churn_rate_and_prospect_share(world: World) -> None:
    truth = _primaries(world)
    paying = truth[truth["true_segment"] != "prospect"]
    assert 0.15 <= paying["churned_before_as_of"].mean() <= 0.25
    assert 0.20 <= (truth["true_segment"] == "prospect").mean() <= 0.33
    segments = set(truth["true_segment"])
    assert segments == {"strategic", "key", "regular", "prospect"}


def test_prospects_have_no_paid_orders_but_leads_and_engagement(
    world: World, company_of: pd.Series
) -> None:
    truth = world.truth_accounts
    prospects = set(truth.loc[truth["true_segment"] == "prospect", "true_company_id"])
    assert prospects
    o = world.orders
    paid = o[(o["status"] != "cancelled") & (_net(o) > 0)]
    assert prospects.isdisjoint(set(paid["account_id"].map(company_of)))
    assert set(truth.loc[truth["true_segment"] != "prospect", "true_company_id"]) <= set(
        paid["account_id"].map(company_of)
    )
    with_leads = set(world.crm_leads["account_id"].map(company_of))
    assert prospects <= with_leads
    engaged = set(world.crm_activities["account_id"].map(company_of))
    assert len(prospects & engaged) / len(prospects) > 0.5


def test_converted_leads_precede_first_orders_of_new_customers(
    world: World, company_of: pd.Series
) -> None:
    truth = _primaries(world).set_index("true_company_id")
    window_start = pd.Timestamp(AS_OF) - timedelta(days=3 * 365)
    new = truth[truth["customer_since"] > window_start + timedelta(days=1)]
    assert len(new) > 50
    first_order = (
        pd.to_datetime(world.orders["order_date"])
        .groupby(world.orders["account_id"].map(company_of))
        .min()
    )
    leads = world.crm_leads[world.crm_leads["status"] == "converted"]
    first_conversion = (
        pd.to_datetime(leads["converted_at"]).groupby(leads["account_id"].map(company_of)).min()
    )
    joined = pd.DataFrame({"first_order": first_order, "converted": first_conversion}).loc[
        new.index
    ]
    assert joined["converted"].notna().all()
    assert (joined["converted"].dt.normalize() <= joined["first_order"]).all()
    assert (joined["first_order"] - joined["converted"]).dt.days.max() <= 31
    assert (joined["first_order"] == new["customer_since"]).all()


def test_lead_truth_probability_explains_outcomes(world: World) -> None:
    leads = world.crm_leads.merge(world.truth_leads, on="lead_id", validate="one_to_one")
    assert len(leads) == len(world.crm_leads)
    assert leads["true_conversion_probability"].between(0, 1, inclusive="neither").all()
    resolved = leads[leads["status"] != "open"]
    quartile = pd.qcut(resolved["true_conversion_probability"], 4, labels=False)
    rate = (resolved["status"] == "converted").groupby(quartile).mean()
    assert rate.iloc[-1] > rate.iloc[0] + 0.3, rate
    assert set(leads["status"]) == {"open", "converted", "lost"}
    assert leads.loc[leads["status"] == "converted", "converted_at"].notna().all()
    assert leads.loc[leads["status"] != "converted", "converted_at"].isna().all()


def test_engagement_declines_before_churn(world: World, company_of: pd.Series) -> None:
    truth = _primaries(world).set_index("true_company_id")
    churned = truth[truth["churned_before_as_of"] & truth["churn_date"].notna()]
    acts = world.crm_activities.assign(company=world.crm_activities["account_id"].map(company_of))
    acts = acts[acts["company"].isin(churned.index)]
    days_before = (
        churned["churn_date"].reindex(acts["company"]).to_numpy() - acts["occurred_at"].to_numpy()
    )
    days_before = pd.to_timedelta(days_before).days
    late = ((days_before >= 0) & (days_before < 90)).sum()
    early = ((days_before >= 270) & (days_before < 360)).sum()
    assert late < 0.7 * early, (late, early)


def test_nps_lower_before_churn(world: World, company_of: pd.Series) -> None:
    truth = _primaries(world).set_index("true_company_id")
    s = world.surveys.assign(company=world.surveys["account_id"].map(company_of))
    churners = truth.index[
        truth["churned_before_as_of"]
        | (truth["future_churn"] & (truth["true_segment"] != "prospect"))
    ]
    in_churners = s["company"].isin(churners)
    assert s.loc[in_churners, "nps_score"].mean() < s.loc[~in_churners, "nps_score"].mean() - 0.8
    assert s["nps_score"].between(0, 10).all()
    assert s["csat_score"].dropna().between(1, 5).all()


def test_orders_follow_seasonality(world: World) -> None:
    dates = pd.to_datetime(world.orders["order_date"])
    per_month = dates.groupby([dates.dt.year, dates.dt.month]).size()
    months = per_month.index.get_level_values(1)
    complete = per_month[(per_month.index.get_level_values(0) < AS_OF.year)]
    feb = complete[complete.index.get_level_values(1) == 2].mean()
    dec = complete[complete.index.get_level_values(1) == 12].mean()
    assert dec > 1.5 * feb, (dec, feb)
    assert len(set(months)) == 12
    weekend = dates.dt.weekday >= 5
    assert weekend.mean() < 0.15


def _orders_by_company(world: World, company_of: pd.Series) -> pd.DataFrame:
    o = world.orders
    return o.assign(company=o["account_id"].map(company_of), day=pd.to_datetime(o["order_date"]))


def test_purchase_rates_drift_by_company(world: World, company_of: pd.Series) -> None:
    """Steady customers' order counts grow or shrink from year to year with their own drift, not
    at one constant rate (the world BG/NBD assumes, where trailing revenue is an oracle)."""
    truth = _primaries(world).set_index("true_company_id")
    as_of = pd.Timestamp(AS_OF)
    steady = truth[
        (truth["customer_since"] < as_of - pd.Timedelta(days=3 * 365 - 1))
        & ~truth["churned_before_as_of"]
        & ~truth["future_churn"]
    ]
    o = _orders_by_company(world, company_of)
    o = o[o["company"].isin(steady.index)]
    last = o[o["day"] >= as_of - pd.Timedelta(days=365)].groupby("company").size()
    first = o[o["day"] < as_of - pd.Timedelta(days=730)].groupby("company").size()
    counts = pd.DataFrame({"last": last, "first": first}).fillna(0)
    counts = counts[counts.sum(axis=1) >= 20]  # enough orders to see a rate
    log_ratio = np.log((counts["last"] + 0.5) / (counts["first"] + 0.5))
    assert len(counts) > 200, len(counts)
    assert log_ratio.corr(steady["rate_growth"].reindex(counts.index)) > 0.6
    assert (log_ratio > np.log(1.5)).mean() > 0.15  # grew by half or more over two years
    assert (log_ratio < -np.log(1.5)).mean() > 0.15  # lost a third or more
    # The market as a whole neither shrinks nor booms: the mean rate stays level.
    per_year = o.groupby(o["day"] < as_of - pd.Timedelta(days=730)).size()
    assert 0.8 < per_year[False] / 2 / per_year[True] < 1.25, per_year


def test_orders_slow_before_churn(world: World, company_of: pd.Series) -> None:
    truth = _primaries(world).set_index("true_company_id")
    churned = truth[truth["churned_before_as_of"] & truth["churn_date"].notna()]
    o = _orders_by_company(world, company_of)
    o = o[o["company"].isin(churned.index)]
    days_before = pd.to_timedelta(
        churned["churn_date"].reindex(o["company"]).to_numpy() - o["day"].to_numpy()
    ).days
    late = ((days_before >= 0) & (days_before < 60)).sum()
    early = ((days_before >= 180) & (days_before < 240)).sum()
    assert late < 0.8 * early, (late, early)


def test_year_end_flush_changes_from_year_to_year(world: World) -> None:
    dates = pd.to_datetime(world.orders["order_date"])
    month = dates.dt.month
    year = dates.dt.year
    dec = dates[month == 12].groupby(year[month == 12]).size()
    nov = dates[month == 11].groupby(year[month == 11]).size()
    flush = (dec / nov).dropna()
    assert len(flush) >= 2
    assert flush.max() > 1.2 * flush.min(), flush


def test_every_generated_uscc_is_valid_except_the_mistyped(world: World) -> None:
    mistyped = world.truth_accounts["duplicate_kind"].to_numpy() == "mistyped_uscc"
    accounts = world.crm_accounts["uscc"]
    codes = pd.concat([accounts[~mistyped], world.risk["uscc"]]).dropna()
    assert len(codes) > 0
    assert all(is_valid_uscc(c) for c in codes)
    assert mistyped.sum() >= 5
    assert not any(is_valid_uscc(c) for c in accounts[mistyped])
    missing = accounts.isna().mean()
    assert 0.01 < missing < 0.08


def _normalise_name(name: str) -> str:
    name = name.replace("（", "(").replace("）", ")").replace("\u3000", "")
    return re.sub(r"\s+", "", name).replace("股份有限公司", "有限公司")


def test_duplicate_records_of_each_kind(world: World) -> None:
    acc = world.crm_accounts.merge(world.truth_accounts, on="account_id", validate="one_to_one")
    primaries = acc[~acc["is_duplicate_record"]].set_index("true_company_id")
    # Each true company has exactly one primary record.
    assert primaries.index.is_unique
    assert set(acc["true_company_id"]) == set(primaries.index)

    kind_a = acc[acc["duplicate_kind"] == "same_uscc_name_variant"]
    kind_b = acc[acc["duplicate_kind"] == "missing_uscc_same_name"]
    kind_c = acc[acc["duplicate_kind"] == "similar_name_distinct"]
    assert len(kind_a) >= 10 and len(kind_b) >= 10 and len(kind_c) >= 10
    assert kind_a["is_duplicate_record"].all() and kind_b["is_duplicate_record"].all()
    assert not kind_c["is_duplicate_record"].any()

    orig_a = primaries.loc[kind_a["true_company_id"]]
    assert (kind_a["uscc"].to_numpy() == orig_a["uscc"].to_numpy()).all()
    assert (kind_a["account_name"].to_numpy() != orig_a["account_name"].to_numpy()).all()
    assert [_normalise_name(a) for a in kind_a["account_name"]] == [
        _normalise_name(b) for b in orig_a["account_name"]
    ]
    assert (kind_a["account_id"].to_numpy() != orig_a["account_id"].to_numpy()).all()

    orig_b = primaries.loc[kind_b["true_company_id"]]
    assert kind_b["uscc"].isna().all()
    assert (
        kind_b["account_name"].str.strip().to_numpy()
        == orig_b["account_name"].str.strip().to_numpy()
    ).all()
    assert (kind_b["city"].to_numpy() == orig_b["city"].to_numpy()).all()

    # Look-alikes: same city, shared brand, different names, different codes, different companies.
    by_city = kind_c.groupby("city")
    pairs = 0
    for _, group in by_city:
        names = group["account_name"].str.strip().tolist()
        companies = group["true_company_id"].tolist()
        for i in range(len(names)):
            for j in range(i + 1, len(names)):
                common = len(_common_prefix(names[i], names[j]))
                if common >= 3:
                    assert companies[i] != companies[j]
                    assert names[i] != names[j]
                    pairs += 1
    assert pairs >= len(kind_c) // 3
    assert kind_c["true_uscc"].is_unique


def _common_prefix(a: str, b: str) -> str:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]


def test_events_reference_duplicate_records(world: World) -> None:
    dup_ids = set(
        world.truth_accounts.loc[world.truth_accounts["is_duplicate_record"], "account_id"]
    )
    all_ids = set(world.crm_accounts["account_id"])
    for entity in ("orders", "crm_contacts", "crm_activities"):
        ids = set(getattr(world, entity)["account_id"])
        assert ids <= all_ids, entity
        assert ids & dup_ids, entity


def test_timestamps_ordered(world: World) -> None:
    for entity in ("crm_accounts", "crm_contacts", "crm_leads"):
        frame = getattr(world, entity)
        assert (frame["updated_at"] >= frame["created_at"]).all(), entity
    o = world.orders
    assert (pd.to_datetime(o["updated_at"]) >= pd.to_datetime(o["order_date"])).all()
    # Accounts exist before their company's first order.
    truth = world.truth_accounts.set_index("account_id")
    created = world.crm_accounts.set_index("account_id")["created_at"]
    primary_created = created[~truth.loc[created.index, "is_duplicate_record"]]
    primary_created.index = truth.loc[primary_created.index, "true_company_id"]
    first = (
        pd.to_datetime(o["order_date"]).groupby(o["account_id"].map(truth["true_company_id"])).min()
    )
    assert (primary_created.reindex(first.index) < first).all()


def test_firmographics_and_dirt(world: World) -> None:
    acc = world.crm_accounts
    canonical = {ind.name for ind in INDUSTRIES}
    variants = {v for ind in INDUSTRIES for v in ind.variants}
    industry = acc["industry"]
    assert 0.015 <= industry.isna().mean() <= 0.05
    assert set(industry.dropna()) <= canonical | variants
    assert industry.isin(variants).mean() > 0.03
    assert (acc["account_name"] != acc["account_name"].str.strip()).sum() > 0
    top_provinces = acc["province"].value_counts().index[:5]
    assert set(top_provinces) == {"广东省", "浙江省", "江苏省", "上海市", "北京市"}
    assert acc["province"].nunique() >= 25
    # every name carries its legal form, except the abbreviated duplicates (杭州云启科技)
    abbreviated = world.truth_accounts["duplicate_kind"].to_numpy() == "abbreviated_name"
    assert acc["account_name"][~abbreviated].str.contains("有限公司").all()
    assert not acc["account_name"][abbreviated].str.contains("公司").any()
    emp = acc["employee_count"].dropna().astype(float)
    rev = acc.loc[acc["employee_count"].notna(), "annual_revenue_cny"]
    assert emp.corr(rev, method="spearman") > 0.6
    emails = world.crm_contacts["email"].dropna()
    assert (emails != emails.str.lower()).mean() > 0.03
    phones = world.crm_contacts["phone"].dropna()
    assert phones.str.startswith("+86").any() and phones.str.contains(" ").any()
    assert phones.str.contains("-").any() and phones.str.fullmatch(r"1\d{10}").any()
    per_company = (
        world.crm_contacts["account_id"]
        .map(world.truth_accounts.set_index("account_id")["true_company_id"])
        .value_counts()
    )
    assert per_company.max() <= 8 * 2  # a company may have contacts on a duplicate record too
    assert 0.02 <= world.crm_contacts["opt_out"].mean() <= 0.08


def test_group_companies(world: World) -> None:
    acc = world.crm_accounts.set_index("account_id")
    parents = acc["parent_account_id"].dropna()
    assert set(parents) <= set(acc.index)
    in_groups = set(parents.index) | set(parents)
    share = len(in_groups) / len(acc)
    assert 0.03 <= share <= 0.08, share
    # Depth at most 3: a parent's parent has no parent.
    grand = acc.loc[parents.to_numpy(), "parent_account_id"].dropna()
    assert acc.loc[grand.to_numpy(), "parent_account_id"].isna().all()
    assert len(grand) > 0
    # Children usually carry the parent's brand.
    shares_brand = [
        any(child.find(parent_name[i : i + 2]) >= 0 for i in range(2, 4))
        for child, parent_name in zip(
            acc.loc[parents.index, "account_name"],
            acc.loc[parents.to_numpy(), "account_name"],
            strict=True,
        )
    ]
    assert np.mean(shares_brand) > 0.8


def test_risk_leans_towards_churners(world: World) -> None:
    truth = _primaries(world).set_index("true_uscc")
    risk = world.risk.join(truth[["churned_before_as_of"]], on="uscc")
    risky = risk["credit_rating"].isin(["B", "CCC", "CC", "C"])
    assert 0.03 < risky.mean() < 0.30
    by_churn = risky.groupby(risk["churned_before_as_of"]).mean()
    assert by_churn[True] > by_churn[False] * 1.3
    dates = risk.groupby("uscc").size()
    assert dates.between(1, 3).all() and (dates > 1).any()
    assert not risk.duplicated(["uscc", "as_of_date"]).any()


def test_same_seed_same_world_different_seed_different(world: World) -> None:
    from pipelines.generate import generate_world

    again = generate_world(400, 5, AS_OF)
    same = generate_world(400, 5, AS_OF)
    other = generate_world(400, 6, AS_OF)
    for name in again.LANDING_ENTITIES:
        pd.testing.assert_frame_equal(getattr(again, name), getattr(same, name))
    pd.testing.assert_frame_equal(again.truth_accounts, same.truth_accounts)
    assert not again.crm_accounts["account_name"].equals(other.crm_accounts["account_name"])
    assert not again.orders["amount_cny"].equals(other.orders["amount_cny"])
