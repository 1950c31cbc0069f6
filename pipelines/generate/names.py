"""Company names of the sample world: brands, industry words, legal suffixes, the three name
forms Chinese companies use, and the collisions real registers avoid."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipelines.generate.reference import BRAND_CHARS, INDUSTRIES


def brands(rng: np.random.Generator, n: int) -> np.ndarray:
    """Two- or three-character brand names (云启, 华信达) drawn from the brand character pool."""
    chars = np.array([c for c, _ in BRAND_CHARS])
    idx = rng.integers(0, len(chars), size=(n, 3))
    # Avoid doubled characters such as 云云, which read like typos.
    idx[:, 1] = np.where(idx[:, 1] == idx[:, 0], (idx[:, 1] + 1) % len(chars), idx[:, 1])
    idx[:, 2] = np.where(idx[:, 2] == idx[:, 1], (idx[:, 2] + 1) % len(chars), idx[:, 2])
    two = np.char.add(chars[idx[:, 0]], chars[idx[:, 1]])
    three = np.char.add(two, chars[idx[:, 2]])
    return np.where(rng.random(n) < 0.75, two, three).astype(object)


def brand_pinyin(brands: pd.Series) -> pd.Series:
    """Pinyin of a brand (云启 -> yunqi), for company e-mail domains."""
    mapping = dict(BRAND_CHARS)
    unique = brands.drop_duplicates()
    translated = {b: "".join(mapping.get(ch, "x") for ch in b) for b in unique}
    return brands.map(translated)


def industry_words(industry_idx: np.ndarray, pick: np.ndarray) -> np.ndarray:
    words = np.empty(len(industry_idx), dtype=object)
    for i, ind in enumerate(INDUSTRIES):
        mask = industry_idx == i
        options = np.array(ind.name_words, dtype=object)
        words[mask] = options[pick[mask] % len(options)]
    return words


def compose_names(co: pd.DataFrame, rows: np.ndarray | None = None) -> None:
    """(Re)build ``word`` and ``name`` for ``rows`` (all rows if None)."""
    rows = np.arange(len(co)) if rows is None else rows
    sub = co.iloc[rows]
    word = industry_words(sub["industry_idx"].to_numpy(), sub["word_pick"].to_numpy())
    pairs = sub["similar_pair"].to_numpy()
    twin_word = np.full(len(rows), None, dtype=object)
    if (pairs >= 0).any():
        twin = co.iloc[pairs[pairs >= 0]]
        twin_word[pairs >= 0] = industry_words(
            twin["industry_idx"].to_numpy(), twin["word_pick"].to_numpy()
        )
    # The second company of a look-alike pair (the one whose twin has a lower index) must use a
    # different industry word than its twin, or the two names would be identical.
    is_second = (pairs >= 0) & (pairs < rows)
    picks = sub["word_pick"].to_numpy().copy()
    for _ in range(12):
        clash = is_second & (word == twin_word)
        if not clash.any():
            break
        picks[clash] += 1
        word[clash] = industry_words(sub["industry_idx"].to_numpy()[clash], picks[clash])
    clash = is_second & (word == twin_word)
    word[clash] = word[clash] + "服务"
    form = sub["form"].to_numpy()
    brand = sub["brand"].to_numpy(dtype=object)
    suffix = sub["suffix"].to_numpy(dtype=object)
    city = sub["city_short"].to_numpy(dtype=object)
    province = sub["province_short"].to_numpy(dtype=object)
    name = np.where(
        form == 0,
        city + brand + word + suffix,
        np.where(
            form == 1,
            province + brand + word + suffix,
            np.where(
                form == 2, brand + "（" + city + "）" + word + suffix, province + brand + suffix
            ),
        ),
    )
    if len(rows) == len(co):
        co["word"] = word
        co["name"] = name
    else:
        co.iloc[rows, co.columns.get_loc("word")] = word
        co.iloc[rows, co.columns.get_loc("name")] = name


def make_names_unique(rng: np.random.Generator, co: pd.DataFrame) -> None:
    """Redraw brands until no two true companies share a name in the same city.

    Two real companies cannot register the same name in one city; kind (b) duplicates rely on
    "same name, same city" meaning "same company". Group and look-alike members keep their brand
    (they are redrawn through their industry word instead).
    """
    pinned = (co["parent"].to_numpy() >= 0) | (co["similar_pair"].to_numpy() >= 0)
    pinned |= co["is_group_root"].to_numpy()
    for _ in range(30):
        key = co["name"] + "|" + co["city"]
        clashing = np.flatnonzero(key.duplicated(keep=False).to_numpy())
        if len(clashing) == 0:
            return
        # Within each clash keep one row, preferring a pinned one, and redraw the rest.
        sub = pd.DataFrame({"row": clashing, "key": key.iloc[clashing].to_numpy()})
        sub["free"] = ~pinned[clashing]
        sub = sub.sort_values(["key", "free", "row"])
        redraw = sub.loc[sub["key"].duplicated(), "row"].to_numpy()
        free = redraw[~pinned[redraw]]
        stuck = redraw[pinned[redraw]]
        if len(free):
            co.iloc[free, co.columns.get_loc("brand")] = brands(rng, len(free))
        if len(stuck):
            col = co.columns.get_loc("word_pick")
            co.iloc[stuck, col] = co["word_pick"].to_numpy()[stuck] + rng.integers(1, 4, len(stuck))
        # A group root's name has no industry word: give the whole group a new brand.
        roots = stuck[co["is_group_root"].to_numpy()[stuck]]
        if len(roots):
            members = np.flatnonzero(np.isin(co["group_root"].to_numpy(), roots))
            new_brand = pd.Series(brands(rng, len(roots)), index=roots)
            co.iloc[members, co.columns.get_loc("brand")] = new_brand.reindex(
                co["group_root"].to_numpy()[members]
            ).to_numpy()
            redraw = np.union1d(redraw, members)
        compose_names(co, redraw)
    # Practically unreachable: mark the remaining clashes as branch offices.
    dup = (co["name"] + "|" + co["city"]).duplicated().to_numpy()
    co.loc[dup, "name"] = co.loc[dup, "name"].str.replace("公司", "分公司", regex=False)
