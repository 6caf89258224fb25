package provisioner

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// GCConfig is --image_gc_config (Mesos' ImageGcConfig): automatic image
// garbage collection.
type GCConfig struct {
	// ImageDiskHeadroom, in [0, 1], is the share of the store's file
	// system that must stay free: below it, unused images are pruned.
	ImageDiskHeadroom float64
	// ImageDiskWatchInterval is how often the free space is checked.
	ImageDiskWatchInterval time.Duration
	// ExcludedImages are never pruned (Docker image names).
	ExcludedImages []string
}

// due reports whether free of total blocks is under the headroom.
func (c *GCConfig) due(free, total uint64) bool {
	return total > 0 && float64(free) < c.ImageDiskHeadroom*float64(total)
}

// gcJSON is what --image_gc_config may hold: the fields of Mesos'
// ImageGcConfig this agent honours. Any other field is refused by name.
type gcJSON struct {
	ImageDiskHeadroom      *float64 `json:"image_disk_headroom"`
	ImageDiskWatchInterval *struct {
		Nanoseconds *int64 `json:"nanoseconds"`
	} `json:"image_disk_watch_interval"`
	ExcludedImages []struct {
		Type   string `json:"type"`
		Docker *struct {
			Name string `json:"name"`
		} `json:"docker"`
		// Appc is parsed to be refused by its type.
		Appc json.RawMessage `json:"appc"`
	} `json:"excluded_images"`
}

// ParseGCConfig parses --image_gc_config: JSON, or a path (absolute, or
// a file:// URI) of a file holding it. Empty means none (nil).
func ParseGCConfig(v string) (*GCConfig, error) {
	if strings.TrimSpace(v) == "" {
		return nil, nil
	}
	data := []byte(v)
	if p, ok := strings.CutPrefix(v, "file://"); ok || strings.HasPrefix(v, "/") {
		if !ok {
			p = v
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("--image_gc_config: %w", err)
		}
		data = b
	}
	var j gcJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return nil, fmt.Errorf("--image_gc_config: %w (supported: image_disk_headroom, image_disk_watch_interval.nanoseconds, excluded_images[].type=DOCKER with docker.name)", err)
	}
	var c GCConfig
	switch {
	case j.ImageDiskHeadroom == nil:
		return nil, errors.New("--image_gc_config: image_disk_headroom is required")
	case *j.ImageDiskHeadroom < 0 || *j.ImageDiskHeadroom > 1:
		return nil, fmt.Errorf("--image_gc_config: image_disk_headroom %v must be between 0.0 and 1.0", *j.ImageDiskHeadroom)
	case j.ImageDiskWatchInterval == nil || j.ImageDiskWatchInterval.Nanoseconds == nil:
		return nil, errors.New("--image_gc_config: image_disk_watch_interval.nanoseconds is required")
	case *j.ImageDiskWatchInterval.Nanoseconds <= 0:
		return nil, fmt.Errorf("--image_gc_config: image_disk_watch_interval %d ns must be positive", *j.ImageDiskWatchInterval.Nanoseconds)
	}
	c.ImageDiskHeadroom = *j.ImageDiskHeadroom
	c.ImageDiskWatchInterval = time.Duration(*j.ImageDiskWatchInterval.Nanoseconds)
	for i, img := range j.ExcludedImages {
		if img.Type != "DOCKER" {
			return nil, fmt.Errorf("--image_gc_config: excluded_images[%d]: type %q is not supported (only DOCKER images are)", i, img.Type)
		}
		if img.Docker == nil || img.Docker.Name == "" {
			return nil, fmt.Errorf("--image_gc_config: excluded_images[%d]: docker.name is required", i)
		}
		c.ExcludedImages = append(c.ExcludedImages, img.Docker.Name)
	}
	return &c, nil
}
