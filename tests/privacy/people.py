"""Hand-made people for the erasure tests, dropped into a generated world's landing folder.

Their names, emails and phones occur nowhere else in the world (checked by
:func:`assert_unique`), so finding one anywhere after the erasure is a leak, not a namesake.
Three are erased, one by each kind of identifier; a fourth stays as the control.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

CONTACT_COLUMNS = [
    "contact_id", "account_id", "full_name", "email", "phone", "job_title", "opt_out",
    "created_at", "updated_at", "is_deleted",
]  # fmt: skip


@dataclass(frozen=True)
class Person:
    contact_id: str
    name: str
    email: str
    phone: str
    title: str

    def values(self) -> list[str]:
        """Every form in which a trace of the person could be stored: as delivered, the
        email lower-cased, the phone's digits and its E.164 form."""
        digits = re.sub(r"\D", "", self.phone)
        national = digits[2:] if digits.startswith("86") and len(digits) > 11 else digits
        national = national.lstrip("0")
        return sorted({self.name, self.email, self.email.lower(), self.phone, national,
                       "+86" + national})  # fmt: skip


# Erased by contact id. The doubled "@" fails the email-shape expectation, so the value is a
# Great Expectations failure example (stored masked) before it is erased.
SIMA = Person(
    "CT-PRIV-1", "司马懿明", "sima.yiming@@kunlun-tech.cn", "+86 139 8765 4321", "采购总监"
)
# Erased by email (requested in another case); a newer version of the contact is quarantined
# for a formula-like phone, so the person is in raw._quarantine too.
OUYANG = Person(
    "CT-PRIV-2", "欧阳青青", "ouyang.qingqing@huadong-steel.com", "138 7654 3210", "财务经理"
)
# Erased by phone, requested in another format than delivered.
ZHUGE = Person("CT-PRIV-3", "诸葛明月", "zhuge.mingyue@xihu-bio.cn", "0571-8765 4323", "技术总监")
# Not erased: must stay.
DONGFANG = Person(
    "CT-PRIV-4", "东方既白", "dongfang.jibai@qiantang-tea.cn", "137 1234 9876", "总经理"
)
ERASED = (SIMA, OUYANG, ZHUGE)
REQUESTS = [
    # request_id, contact_id, email, phone, requested_at, reason
    ("DSAR-001", SIMA.contact_id, "", "", "09:00", "GDPR art. 17, ticket 4711, called from 13912345678"),
    ("DSAR-002", "", "Ouyang.Qingqing@HUADONG-steel.com", "", "10:00", "PIPL art. 47"),
    ("DSAR-003", "", "", "+86 571 87654323", "11:00", "PIPL art. 47"),
]  # fmt: skip


def _ts(day: date, hhmm: str = "09:00") -> str:
    return f"{day.isoformat()} {hhmm}:00"


def write_people(landing: Path, account_ids: list[str], as_of: date) -> None:
    """Two versions of each contact (two exports), a newer version of OUYANG quarantined for a
    formula-like phone, and a survey answer whose comment SIMA wrote, at the given accounts."""
    old, new = as_of - timedelta(days=400), as_of - timedelta(days=30)
    people = list(zip((SIMA, OUYANG, ZHUGE, DONGFANG), account_ids, strict=True))
    for name, day, title in (("v1", old, lambda p: "经理"), ("v2", new, lambda p: p.title)):
        rows = [[p.contact_id, account, p.name, p.email, p.phone, title(p), "0", _ts(old),
                 _ts(day), "false"] for p, account in people]  # fmt: skip
        if name == "v2":
            # Quarantined: the original values are kept as JSON in raw._quarantine.
            rows.append([OUYANG.contact_id, account_ids[1], OUYANG.name, OUYANG.email,
                         "=" + OUYANG.phone, OUYANG.title, "1", _ts(old), _ts(new, "10:00"),
                         "false"])  # fmt: skip
        _csv(landing / "crm_contacts" / f"crm_contacts_people_{name}.csv", CONTACT_COLUMNS, rows)
    survey = [["NPS-PRIV-1", account_ids[0], SIMA.contact_id, (as_of - timedelta(days=20)).isoformat(),
               "9", "5", f"{SIMA.name}说服务很好，请回电 {SIMA.phone}"]]  # fmt: skip
    columns = ["response_id", "account_id", "contact_id", "survey_date", "nps_score",
               "csat_score", "comment"]  # fmt: skip
    _csv(landing / "surveys" / "surveys_people.csv", columns, survey)


def write_requests(landing: Path, as_of: date, name: str = "requests.csv") -> Path:
    columns = ["request_id", "contact_id", "email", "phone", "requested_at", "reason"]
    rows = [[r, c, e, p, _ts(as_of, t), why] for r, c, e, p, t, why in REQUESTS]
    return _csv(landing / "privacy_erasure_requests" / name, columns, rows)


def write_redelivery(landing: Path, account_ids: list[str], as_of: date) -> Path:
    """A later CRM export that still carries SIMA (a newer version), OUYANG's email under a
    contact id the CRM gave her when she was re-imported, and DONGFANG unchanged."""
    day = _ts(as_of, "18:00")
    rows = [
        [SIMA.contact_id, account_ids[0], SIMA.name, SIMA.email, SIMA.phone, "副总裁", "0",
         day, day, "false"],
        ["CT-PRIV-9", account_ids[1], OUYANG.name, OUYANG.email.upper(), OUYANG.phone,
         OUYANG.title, "0", day, day, "false"],
        [DONGFANG.contact_id, account_ids[3], DONGFANG.name, DONGFANG.email, DONGFANG.phone,
         DONGFANG.title, "0", day, day, "false"],
    ]  # fmt: skip
    return _csv(landing / "crm_contacts" / "crm_contacts_redelivery.csv", CONTACT_COLUMNS, rows)


def _csv(path: Path, columns: list[str], rows: list[list[str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)
    return path


def assert_unique(landing: Path, people: tuple[Person, ...]) -> None:
    """No value of ``people`` occurs in the world's own contact and survey files (the only
    files that carry contact data; read with pandas, as they are CSV and XLSX)."""
    import pandas as pd

    own = {"crm_contacts_people_v1.csv", "crm_contacts_people_v2.csv", "surveys_people.csv"}
    for path in [*landing.glob("crm_contacts/*"), *landing.glob("surveys/*")]:
        if path.name in own:
            continue
        read = pd.read_excel if path.suffix == ".xlsx" else pd.read_csv
        text = read(path, dtype=str).to_csv(index=False)
        for person in people:
            for value in person.values():
                assert value not in text, (value, path)
