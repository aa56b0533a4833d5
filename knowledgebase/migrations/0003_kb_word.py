"""PostgreSQL only: the distinct words of the articles per language (`kb_word`), with a trigram
index, for the typo pass: a misspelt query word is corrected to its closest known word, then
searched again. `lexeme` is the word's stem in its language (NULL for stop words), so the words
of a removed text can be pruned. Rebuilt by knowledgebase.search.reindex_all."""

from django.db import migrations

FORWARD = [
    "CREATE TABLE IF NOT EXISTS kb_word (language varchar(8) NOT NULL, word text NOT NULL, lexeme text, "
    "PRIMARY KEY (language, word))",
    "CREATE INDEX IF NOT EXISTS kb_word_trgm ON kb_word USING gin (language, word gin_trgm_ops) "
    "WITH (fastupdate = off)",
    "CREATE INDEX IF NOT EXISTS kb_word_lexeme ON kb_word (language, lexeme)",
]
# The words of the rows already there (knowledgebase.search keeps them current from now on).
FILL = """
INSERT INTO kb_word (language, word, lexeme)
SELECT d.language, d.word, (tsvector_to_array(to_tsvector((CASE d.language WHEN 'en' THEN 'english'
       WHEN 'ru' THEN 'russian' WHEN 'it' THEN 'italian' WHEN 'el' THEN 'greek' ELSE 'simple' END)::regconfig,
       d.word)))[1]
FROM (SELECT DISTINCT t.language, w.word
      FROM knowledgebase_articletranslation t, unnest(tsvector_to_array(to_tsvector('simple', t.title || ' ' || coalesce((
          SELECT string_agg(g.name, ' ') FROM knowledgebase_tag g
          JOIN knowledgebase_article_tags at ON at.tag_id = g.id WHERE at.article_id = t.article_id), '')
          || ' ' || left(t.search_text, 100000)))) AS w(word)) d
WHERE length(d.word) <= 40
ON CONFLICT DO NOTHING
"""
BACKWARD = ["DROP TABLE IF EXISTS kb_word"]


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
    dependencies = [("knowledgebase", "0002_search_vector")]

    operations = [migrations.RunPython(forward, backward)]
