package registry

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Bolt is a Store in a bbolt database file: Mezzo's durable single-master
// registry (--registry=replicated_log, in --work_dir). Every Apply is one
// bbolt transaction, synced to disk before Apply returns.
type Bolt struct {
	db *bolt.DB
}

// OpenBolt opens (creating if needed) the registry database at path. It
// fails within a few seconds if another process holds the file, so two
// masters can never share one registry.
func OpenBolt(path string) (*Bolt, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("registry: create directory: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("registry: %s is locked by another process (is another master using this --work_dir?)", path)
		}
		return nil, fmt.Errorf("registry: open %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, k := range kinds {
			if _, err := tx.CreateBucketIfNotExists([]byte(k)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("registry: initialize %s: %w", path, err)
	}
	return &Bolt{db: db}, nil
}

// Recover reads the whole registry.
func (b *Bolt) Recover() (*State, error) {
	var st *State
	err := b.db.View(func(tx *bolt.Tx) error {
		var err error
		st, err = load(&boltTxn{tx: tx})
		return err
	})
	if errors.Is(err, bolt.ErrDatabaseNotOpen) {
		return nil, ErrClosed
	}
	return st, err
}

// Apply applies ops in one transaction, durable when it returns.
func (b *Bolt) Apply(ops ...Op) error {
	err := b.db.Update(func(tx *bolt.Tx) error {
		t := &boltTxn{tx: tx}
		for _, op := range ops {
			if err := op.apply(t); err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, bolt.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}

// Commit applies the groups of batch in one transaction, durable when it
// returns; groups refused with an *OpError are left out.
func (b *Bolt) Commit(batch [][]Op) ([]error, error) {
	var refused []error
	err := b.db.Update(func(tx *bolt.Tx) error {
		var err error
		refused, err = commitGroups(&boltTxn{tx: tx}, batch)
		return err
	})
	if errors.Is(err, bolt.ErrDatabaseNotOpen) {
		return nil, ErrClosed
	}
	if err != nil {
		return nil, err
	}
	return refused, nil
}

// Close closes the database.
func (b *Bolt) Close() error { return b.db.Close() }

type boltTxn struct{ tx *bolt.Tx }

func (t *boltTxn) get(kind, key string) ([]byte, bool) {
	v := t.tx.Bucket([]byte(kind)).Get([]byte(key))
	return v, v != nil
}

func (t *boltTxn) put(kind, key string, value []byte) error {
	return t.tx.Bucket([]byte(kind)).Put([]byte(key), value)
}

func (t *boltTxn) del(kind, key string) error {
	return t.tx.Bucket([]byte(kind)).Delete([]byte(key))
}

func (t *boltTxn) each(kind string, f func(key string, value []byte) error) error {
	return t.tx.Bucket([]byte(kind)).ForEach(func(k, v []byte) error { return f(string(k), v) })
}
