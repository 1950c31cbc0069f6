"""A tiny hand-written world with every edge case the dbt project must handle.

as_of = 2024-06-30. Each block names the behaviour it exercises; tests assert on it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tests.transform.uscc import make_uscc

AS_OF = "2024-06-30"

U_YUNQI = make_uscc(1)  # 杭州云启: A1, A3 (uscc typed sloppily), A2 attaches by name+city
U_HAINA_1 = make_uscc(2)  # 宁波海纳 #1
U_HAINA_2 = make_uscc(3)  # 宁波海纳 #2: similar name, different USCC -> must not merge
U_PARENT = make_uscc(4)
U_CHILD = make_uscc(5)
BAD_USCC = make_uscc(6)[:-1] + ("0" if make_uscc(6)[-1] != "0" else "1")

T0 = datetime(2024, 1, 1)
T_LATE = datetime(2024, 6, 29)


def _acc(account_id: str, name: str, created: str, updated: str, **kw: Any) -> dict[str, Any]:
    return {
        "account_id": account_id,
        "account_name": name,
        "created_at": created,
        "updated_at": updated,
        "province": kw.pop("province", "浙江省"),
        "city": kw.pop("city", "杭州市"),
        **kw,
    }


ACCOUNTS = [
    # identity: A1 + A3 share the USCC; A2 has no USCC but the same name_key + city
    _acc(
        "A1",
        "杭州云启科技有限公司",
        "2020-01-01",
        "2024-01-01",
        uscc=U_YUNQI,
        industry="SaaS",
        employee_count=250,
        province="浙江",
        city="杭州",
    ),
    _acc(
        "A2",
        " 杭州 云启科技股份有限公司 ",
        "2022-05-01",
        "2024-03-01",
        industry="软件",
        province="浙江省",
        city="杭州市",
    ),
    _acc("A3", "杭州云启（集团）", "2023-01-01", "2023-02-01", uscc=" " + U_YUNQI.lower() + " "),
    # must-not-merge: same name_key and city, different USCCs; H3 (no USCC) is ambiguous
    _acc("H1", "宁波海纳贸易有限公司", "2019-01-01", "2024-01-01", uscc=U_HAINA_1, city="宁波"),
    _acc("H2", "宁波海纳贸易有限责任公司", "2019-02-01", "2024-01-01", uscc=U_HAINA_2, city="宁波"),
    _acc("H3", "宁波海纳贸易有限公司", "2021-01-01", "2024-01-01", city="宁波"),
    # deleted: E1's later version is a soft delete
    _acc("E1", "删除测试有限公司", "2020-01-01", "2023-01-01"),
    _acc("E1", "删除测试有限公司", "2020-01-01", "2023-06-01", is_deleted=True),
    # latest version wins; F1's v2/v3 tie on updated_at and v3 was loaded later
    _acc(
        "F1",
        "飞达物流有限公司",
        "2018-01-01",
        "2023-01-01",
        industry="物流",
        employee_count=50,
        owner_team="East-1",
    ),
    _acc(
        "F1",
        "飞达物流有限公司",
        "2018-01-01",
        "2024-02-01",
        industry="logistics",
        employee_count=5000,
        owner_team="East-2",
        _loaded_at=datetime(2024, 2, 2),
    ),
    _acc(
        "F1",
        "飞达物流有限公司",
        "2018-01-01",
        "2024-02-01",
        industry="logistics",
        employee_count=5000,
        owner_team="East-3",
        _loaded_at=datetime(2024, 2, 3),
    ),
    # tree: P <- Q <- R; R's parent is Q2, a duplicate record of Q (same USCC)
    _acc(
        "P1",
        "华远控股集团有限公司",
        "2010-01-01",
        "2024-01-01",
        uscc=U_PARENT,
        industry="energy & power",
        employee_count=20000,
        province="上海",
        city="上海",
    ),
    _acc(
        "Q1",
        "华远能源有限公司",
        "2012-01-01",
        "2024-01-01",
        uscc=U_CHILD,
        parent_account_id="P1",
        employee_count=5,
    ),
    _acc("Q2", "华远能源有限公司", "2015-01-01", "2024-01-01", uscc=U_CHILD),
    _acc(
        "R1",
        "华远能源杭州分公司",
        "2016-01-01",
        "2024-01-01",
        parent_account_id="Q2",
        industry="Aerospace",
    ),
    # cycle: X1 -> Y1 -> X1, Z1 hangs below X1
    _acc("X1", "循环甲有限公司", "2017-01-01", "2024-01-01", parent_account_id="Y1"),
    _acc("Y1", "循环乙有限公司", "2017-01-01", "2024-01-01", parent_account_id="X1"),
    _acc("Z1", "循环丙有限公司", "2017-01-01", "2024-01-01", parent_account_id="X1"),
    # activity_tag cases
    _acc("N1", "新客户有限公司", "2024-06-01", "2024-06-01"),
    _acc("V1", "从未互动有限公司", "2020-01-01", "2020-01-01"),
    _acc("S1", "沉默客户有限公司", "2020-01-01", "2020-01-01"),
    _acc("D1", "休眠客户有限公司", "2020-01-01", "2020-01-01", uscc=BAD_USCC),
]

ORDERS = [
    {
        "order_id": "O1",
        "account_id": "A1",
        "order_date": "2024-06-01",
        "status": "completed",
        "amount_cny": 1000,
        "updated_at": "2024-06-01",
    },
    {
        "order_id": "O2",
        "account_id": "A2",
        "order_date": "2024-05-01",
        "status": "partially_refunded",
        "amount_cny": 500,
        "refund_amount_cny": 100,
        "updated_at": "2024-05-10",
    },
    {
        "order_id": "O3",
        "account_id": "A3",
        "order_date": "2023-01-15",
        "status": "cancelled",
        "amount_cny": 800,
        "updated_at": "2023-01-16",
    },
    # late arrival: dated in April, loaded the day before as_of
    {
        "order_id": "O4",
        "account_id": "A1",
        "order_date": "2024-04-15",
        "status": "completed",
        "amount_cny": 200,
        "updated_at": "2024-06-29",
        "_loaded_at": T_LATE,
    },
    # after as_of: ignored
    {
        "order_id": "O5",
        "account_id": "A1",
        "order_date": "2024-07-05",
        "status": "completed",
        "amount_cny": 9999,
        "updated_at": "2024-07-05",
    },
    # refunded later: the second version wins
    {
        "order_id": "O6",
        "account_id": "F1",
        "order_date": "2024-03-01",
        "status": "completed",
        "amount_cny": 300,
        "updated_at": "2024-03-01",
    },
    {
        "order_id": "O6",
        "account_id": "F1",
        "order_date": "2024-03-01",
        "status": "refunded",
        "amount_cny": 300,
        "refund_amount_cny": 300,
        "updated_at": "2024-03-10",
    },
    {
        "order_id": "O7",
        "account_id": "E1",
        "order_date": "2024-06-01",
        "status": "completed",
        "amount_cny": 700,
        "updated_at": "2024-06-01",
    },
    {
        "order_id": "O8",
        "account_id": "Q1",
        "order_date": "2024-03-01",
        "status": "completed",
        "amount_cny": 2000,
        "updated_at": "2024-03-01",
    },
    {
        "order_id": "O9",
        "account_id": "R1",
        "order_date": "2023-09-01",
        "status": "completed",
        "amount_cny": 1000,
        "updated_at": "2023-09-01",
    },
    {
        "order_id": "O10",
        "account_id": "D1",
        "order_date": "2022-01-01",
        "status": "completed",
        "amount_cny": 50,
        "updated_at": "2022-01-01",
    },
]

ACTIVITIES = [
    {
        "activity_id": "AC1",
        "account_id": "A1",
        "activity_type": "web_visit",
        "occurred_at": "2024-06-20 10:00:00",
        "updated_at": "2024-06-20",
    },
    {
        "activity_id": "AC2",
        "account_id": "A2",
        "activity_type": "meeting",
        "occurred_at": "2024-06-25 15:00:00",
        "updated_at": "2024-06-25",
    },
    {
        "activity_id": "AC3",
        "account_id": "A1",
        "activity_type": "unsubscribe",
        "occurred_at": "2024-06-28 09:00:00",
        "updated_at": "2024-06-28",
    },
    {
        "activity_id": "AC4",
        "account_id": "A1",
        "activity_type": "email_open",
        "occurred_at": "2024-06-10 09:00:00",
        "updated_at": "2024-06-10",
    },
    {
        "activity_id": "AC4",
        "account_id": "A1",
        "activity_type": "email_open",
        "occurred_at": "2024-06-10 09:00:00",
        "updated_at": "2024-06-11",
        "is_deleted": True,
    },
    # F1: 4 touches in the previous 90 days, 1 in the last 90 -> declining
    *[
        {
            "activity_id": f"F{i}",
            "account_id": "F1",
            "activity_type": "email_open",
            "occurred_at": f"2024-02-1{i} 09:00:00",
            "updated_at": "2024-02-20",
        }
        for i in range(4)
    ],
    {
        "activity_id": "F9",
        "account_id": "F1",
        "activity_type": "web_visit",
        "occurred_at": "2024-06-01 09:00:00",
        "updated_at": "2024-06-01",
    },
    {
        "activity_id": "S1a",
        "account_id": "S1",
        "activity_type": "event_attendance",
        "occurred_at": "2023-12-01 09:00:00",
        "updated_at": "2023-12-01",
    },
]

LEADS = [
    {
        "lead_id": "L1",
        "account_id": "A1",
        "lead_source": "Web",
        "status": "open",
        "created_at": "2024-06-01",
        "updated_at": "2024-06-01",
    },
    {
        "lead_id": "L2",
        "account_id": "A2",
        "lead_source": "event",
        "status": "converted",
        "created_at": "2024-01-01",
        "converted_at": "2024-02-01",
        "updated_at": "2024-02-01",
    },
]

CONTACTS = [
    {
        "contact_id": "C1",
        "account_id": "A1",
        "full_name": "张三",
        "email": " Zhang.San@Yunqi.CN ",
        "phone": "138 0013 8000",
        "created_at": "2023-01-01",
        "updated_at": "2023-01-01",
    },
    {
        "contact_id": "C2",
        "account_id": "A2",
        "full_name": "李四",
        "phone": "+86-139-0000-1111",
        "opt_out": True,
        "created_at": "2023-01-01",
        "updated_at": "2023-01-01",
    },
    {
        "contact_id": "C3",
        "account_id": "A1",
        "full_name": "王五",
        "phone": "0571-8888 6666",
        "created_at": "2023-01-01",
        "updated_at": "2023-01-01",
    },
    {
        "contact_id": "C3",
        "account_id": "A1",
        "full_name": "王五",
        "phone": "0571-8888 6666",
        "created_at": "2023-01-01",
        "updated_at": "2023-05-01",
        "is_deleted": True,
    },
]

RISK = [
    {
        "uscc": U_YUNQI,
        "as_of_date": "2023-12-31",
        "credit_rating": "A",
        "lawsuit_count": 0,
        "abnormal_operation": False,
        "overdue_amount_cny": 0,
    },
    {
        "uscc": U_YUNQI,
        "as_of_date": "2024-06-01",
        "credit_rating": "BB",
        "lawsuit_count": 2,
        "abnormal_operation": False,
        "overdue_amount_cny": 1000,
    },
    {
        "uscc": U_YUNQI,
        "as_of_date": "2024-07-15",
        "credit_rating": "C",
        "lawsuit_count": 9,
        "abnormal_operation": True,
        "overdue_amount_cny": 99999,
    },
    {
        "uscc": U_CHILD,
        "as_of_date": "2024-05-01",
        "credit_rating": "CCC",
        "lawsuit_count": 1,
        "abnormal_operation": True,
        "overdue_amount_cny": 500,
    },
    {
        "uscc": U_PARENT,
        "as_of_date": "2024-05-01",
        "credit_rating": "AAA",
        "lawsuit_count": 0,
        "abnormal_operation": False,
        "overdue_amount_cny": 0,
    },
]

SURVEYS = [
    {"response_id": "SV1", "account_id": "A1", "survey_date": "2024-05-01", "nps_score": 9},
    {"response_id": "SV2", "account_id": "A3", "survey_date": "2024-06-10", "nps_score": 7},
    {"response_id": "SV3", "account_id": "A1", "survey_date": "2022-01-01", "nps_score": 0},
]

ROWS: dict[str, list[dict[str, Any]]] = {
    "crm_accounts": ACCOUNTS,
    "crm_contacts": CONTACTS,
    "crm_leads": LEADS,
    "crm_activities": ACTIVITIES,
    "orders": ORDERS,
    "risk": RISK,
    "surveys": SURVEYS,
}
