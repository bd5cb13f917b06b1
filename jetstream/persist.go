package jetstream

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"go.uber.org/zap"

	"github.com/murmurmq/murmur/jetstream/store"
)

// On disk (docs/jetstream.md), under store_dir:
//
//	jetstream/<account>/streams/<stream>/meta.json      config and created
//	jetstream/<account>/streams/<stream>/msgs/*.seg     the file store
//	jetstream/<account>/streams/<stream>/obs/<consumer>/meta.json
//	jetstream/<account>/streams/<stream>/obs/<consumer>/state.json

type streamMeta struct {
	Config  StreamConfig `json:"config"`
	Created time.Time    `json:"created"`
}

type consumerMeta struct {
	Name    string         `json:"name"`
	Config  ConsumerConfig `json:"config"`
	Created time.Time      `json:"created"`
}

func (e *Engine) streamsDir() string {
	return filepath.Join(e.cfg.StoreDir, "jetstream", e.account, "streams")
}

// writeJSON writes v to path through a temporary file and a rename, so a
// crash leaves the old or the new file, never half of one.
func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// openStore opens a stream's store.
func (e *Engine) openStore(cfg *StreamConfig) (store.Store, string, error) {
	if cfg.Storage == "memory" || e.cfg.StoreDir == "" {
		return store.NewMemory(), "", nil
	}
	dir := filepath.Join(e.streamsDir(), cfg.Name)
	fs, err := store.OpenFile(filepath.Join(dir, "msgs"), 0)
	if err != nil {
		return nil, "", err
	}
	if fs.Recovered != "" {
		e.log.Warn("stream store repaired", zap.String("stream", cfg.Name), zap.String("repair", fs.Recovered))
	}
	return fs, dir, nil
}

// recoverStreams opens every file stream under the store directory with
// its consumers.
func (e *Engine) recoverStreams() error {
	if e.cfg.StoreDir == "" {
		return nil
	}
	ents, err := os.ReadDir(e.streamsDir())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, d := range ents {
		var meta streamMeta
		if err := readJSON(filepath.Join(e.streamsDir(), d.Name(), "meta.json"), &meta); err != nil {
			e.log.Warn("stream skipped", zap.String("dir", d.Name()), zap.Error(err))
			continue
		}
		s, err := e.addStream(meta.Config, meta.Created)
		if err != nil {
			return fmt.Errorf("jetstream: stream %s: %w", meta.Config.Name, err)
		}
		s.dedupStale = true // rebuilt on the first publish with a Nats-Msg-Id
		s.rebuildTTLs()
		e.recoverConsumers(s)
		s.recoverRetention(&e.usage)
	}
	return nil
}

func (e *Engine) recoverConsumers(s *stream) {
	ents, _ := os.ReadDir(filepath.Join(s.dir, "obs"))
	for _, d := range ents {
		dir := filepath.Join(s.dir, "obs", d.Name())
		var meta consumerMeta
		if err := readJSON(filepath.Join(dir, "meta.json"), &meta); err != nil {
			continue
		}
		c := &consumer{name: meta.Name, stream: s, cfg: meta.Config, created: meta.Created, dir: dir, active: time.Now(), conn: e.conn}
		if err := readJSON(filepath.Join(dir, "state.json"), &c.state); err != nil {
			c.start()
		}
		if c.state.Pending == nil {
			c.state.Pending = map[uint64]*pending{}
		}
		// What was awaiting an ack is due again after the restart.
		for seq, p := range c.state.Pending {
			if p.Due == 0 {
				c.state.Redeliver = append(c.state.Redeliver, seq)
			}
		}
		s.consumers[c.name] = c
	}
}

// saveStream writes a file stream's meta.json.
func saveStream(s *stream) error {
	if s.dir == "" {
		return nil
	}
	return writeJSON(filepath.Join(s.dir, "meta.json"), streamMeta{Config: s.cfg, Created: s.created})
}

func saveConsumerMeta(c *consumer) error {
	if c.dir == "" {
		return nil
	}
	return writeJSON(filepath.Join(c.dir, "meta.json"), consumerMeta{Name: c.name, Config: c.cfg, Created: c.created})
}

// saveConsumers writes the state of consumers that changed (all when
// force).
func (e *Engine) saveConsumers(force bool) {
	for _, s := range e.streams {
		for _, c := range s.consumers {
			if c.dir == "" || !(c.dirty || force) {
				continue
			}
			if err := writeJSON(filepath.Join(c.dir, "state.json"), &c.state); err != nil {
				e.log.Error("consumer state", zap.String("stream", s.cfg.Name), zap.String("consumer", c.name), zap.Error(err))
				continue
			}
			c.dirty = false
		}
	}
}
