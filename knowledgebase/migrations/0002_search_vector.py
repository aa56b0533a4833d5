"""PostgreSQL only: the stored search vector of each translation (not a model field, so the
SQLite demo and makemigrations never see it), its GIN index with the language in front
(btree_gin), and trigram indexes on the title for the typo pass (pg_trgm). Without the GIN
pending list (fastupdate off): articles change rarely, searches must not scan a backlog."""

from django.db import migrations

FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE EXTENSION IF NOT EXISTS btree_gin",
    "ALTER TABLE knowledgebase_articletranslation ADD COLUMN IF NOT EXISTS search_vector tsvector",
    "CREATE INDEX IF NOT EXISTS kb_translation_search ON knowledgebase_articletranslation "
    "USING gin (language, search_vector) WITH (fastupdate = off)",
    "CREATE INDEX IF NOT EXISTS kb_translation_title_trgm ON knowledgebase_articletranslation "
    "USING gin (language, title gin_trgm_ops) WITH (fastupdate = off)",
]
# The vectors of the rows already there (knowledgebase.search keeps them current from now on).
FILL = """
UPDATE knowledgebase_articletranslation t SET search_vector =
    setweight(to_tsvector(c.cfg, t.title), 'A')
    || setweight(to_tsvector(c.cfg, coalesce((
        SELECT string_agg(g.name, ' ' ORDER BY g.name) FROM knowledgebase_tag g
        JOIN knowledgebase_article_tags at ON at.tag_id = g.id WHERE at.article_id = t.article_id), '')), 'B')
    || setweight(to_tsvector(c.cfg, left(t.search_text, 100000)), 'C')
FROM (SELECT x.id, (CASE x.language WHEN 'en' THEN 'english' WHEN 'ru' THEN 'russian' WHEN 'it' THEN 'italian'
                    WHEN 'el' THEN 'greek' ELSE 'simple' END)::regconfig AS cfg
      FROM knowledgebase_articletranslation x) c
WHERE c.id = t.id
"""
BACKWARD = [
    "DROP INDEX IF EXISTS kb_translation_title_trgm",
    "DROP INDEX IF EXISTS kb_translation_search",
    "ALTER TABLE knowledgebase_articletranslation DROP COLUMN IF EXISTS search_vector",
]


def forward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in FORWARD:
        schema_editor.execute(statement)
    schema_editor.execute(FILL)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in BACKWARD:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("knowledgebase", "0001_initial")]

    operations = [migrations.RunPython(forward, backward)]
