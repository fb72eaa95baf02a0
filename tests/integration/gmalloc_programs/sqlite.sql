-- Creates, fills (100k rows) and queries a database; every result is
-- deterministic (no random(), no dates, explicit ORDER BY). Used by
-- test_gmalloc_programs.sh under glibc and under a preloaded malloc.
PRAGMA journal_mode = WAL;
PRAGMA cache_size = -8000;
CREATE TABLE item (id INTEGER PRIMARY KEY, grp INTEGER NOT NULL, name TEXT NOT NULL,
                   price REAL NOT NULL, tags TEXT);
CREATE TABLE grp (id INTEGER PRIMARY KEY, label TEXT NOT NULL);
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
INSERT INTO item (id, grp, name, price, tags)
SELECT i, (i * 7919) % 97,
       printf('item-%06d-%s', i, substr('abcdefghijklmnopqrstuvwxyz', 1 + (i * 31) % 26, 1 + i % 11)),
       ((i * 2654435761) % 100000) / 100.0,
       CASE WHEN i % 3 = 0 THEN NULL ELSE printf('t%d,t%d,t%d', i % 5, i % 7, i % 13) END
FROM n;
WITH RECURSIVE g(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM g WHERE i < 96)
INSERT INTO grp SELECT i, printf('group %02d %s', i, hex(i * 12345)) FROM g;
COMMIT;
CREATE INDEX item_grp_price ON item (grp, price);
CREATE INDEX item_name ON item (name);

SELECT count(*), sum(grp), round(sum(price), 2), count(tags) FROM item;
SELECT g.label, count(*), round(avg(i.price), 4), min(i.name), max(i.name)
  FROM item i JOIN grp g ON g.id = i.grp GROUP BY g.id ORDER BY g.id;
SELECT name, price FROM item WHERE grp = 42 AND price BETWEEN 100 AND 200 ORDER BY price, id LIMIT 20;
SELECT tags, count(*) FROM item WHERE tags LIKE 't1,%' GROUP BY tags ORDER BY tags;
SELECT substr(name, 13), count(*) AS n FROM item GROUP BY 1 ORDER BY n DESC, 1 LIMIT 15;

-- Updates and deletes churn the b-trees and the page cache.
UPDATE item SET price = price * 1.5, tags = coalesce(tags, '') || ',u' WHERE id % 4 = 1;
DELETE FROM item WHERE id % 10 = 7;
INSERT INTO item (grp, name, price, tags)
  SELECT grp, name || '-copy', price + 1, upper(tags) FROM item WHERE id % 50 = 0;
SELECT count(*), round(sum(price), 2), max(id) FROM item;
SELECT grp, count(*), group_concat(id, ' ') FROM
  (SELECT grp, id FROM item WHERE name LIKE '%-copy' ORDER BY grp, id) GROUP BY grp ORDER BY grp LIMIT 10;

-- A window function and a sort too large for the cache.
SELECT id, name, rank FROM
  (SELECT id, name, rank() OVER (PARTITION BY grp ORDER BY price DESC, id) AS rank FROM item)
  WHERE rank <= 2 ORDER BY id LIMIT 30;
SELECT count(DISTINCT name || tags), count(DISTINCT round(price)) FROM item;
VACUUM;
PRAGMA integrity_check;
