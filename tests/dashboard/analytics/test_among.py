"""``rollups.among``: the id lists of the analytics' queries, as each engine takes them best."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from dashboard.analytics import rollups
from dashboard.models import Case
from tests.factories import CaseFactory, ProjectFactory


@pytest.mark.parametrize("wanted", [[], [0], [0, 2], [0, 1, 2, 3]])
def test_it_selects_exactly_the_ids_given(db_session, wanted):
    project = ProjectFactory()
    ids = [CaseFactory(project=project, name=f"test_{n}").id for n in range(4)]
    chosen = [ids[index] for index in wanted]
    query = select(Case.id).where(rollups.among(Case.id, iter(chosen)))
    assert sorted(db_session.scalars(query)) == sorted(chosen)


def test_postgresql_gets_one_array_and_sqlite_a_list(db_session):
    condition = rollups.among(Case.id, [1, 2, 3])
    compiled = str(select(Case.id).where(condition).compile(db_session.get_bind()))
    if db_session.get_bind().dialect.name == "postgresql":
        assert "= ANY (%(param_1)s::INTEGER[])" in compiled
    else:
        assert "IN (__[POSTCOMPILE_id_1])" in compiled
