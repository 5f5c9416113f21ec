import sqlalchemy as sa


def test_database_fixture_gives_an_empty_working_database(database):
    with database.engine.begin() as connection:
        assert sa.inspect(connection).get_table_names() == []
        value = connection.execute(sa.select(sa.literal(41) + 1)).scalar()
    assert value == 42
