package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Measure 11: the portal's fleet overview over o.portalClusters clusters,
// each with a configuration its agent reported on (a quarter
// Non-Compliant): the page's time as a browser waits for it, and its size.

func measurePortal(o options, rep *report) error {
	d, dir, err := freshDataPlane(o, "portal")
	if err != nil {
		return err
	}
	defer d.stopAndRemove(dir)
	n := o.portalClusters
	progress("11. Registering %d clusters with a configuration each, reported on", n)
	if err := parallel(n, 16, func(i int) error {
		cluster := fmt.Sprintf("portal%05d", i)
		_, token, err := d.register(dir, cluster)
		if err != nil {
			return err
		}
		if err := d.call(http.MethodPut, configPath(cluster, "baseline"), armConfig("fleet"), nil); err != nil {
			return err
		}
		return d.report(cluster, token, "baseline", []string{"Compliant", "Compliant", "Compliant", "Non-Compliant"}[i%4])
	}); err != nil {
		return err
	}
	if err := every(100*time.Millisecond, time.Minute, func() (bool, error) {
		rows, err := d.graph(`KubernetesConfigurationResources | count`)
		return err == nil && len(rows) == 1 && rows[0]["Count"] == float64(n), err
	}); err != nil {
		return fmt.Errorf("the index never held every configuration: %w", err)
	}
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: time.Minute}
	get := func(path string) (string, error) {
		resp, err := hc.Get(d.url + path)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("GET %s: %s", path, resp.Status)
		}
		return string(b), err
	}
	form, err := get("/portal/signin")
	if err != nil {
		return err
	}
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(form)
	if m == nil {
		return fmt.Errorf("the sign-in page has no form token")
	}
	resp, err := hc.PostForm(d.url+"/portal/signin", url.Values{"csrf": {m[1]}, "appId": {d.owner.AppID}, "secret": {d.owner.Password}})
	if err != nil {
		return err
	}
	resp.Body.Close()
	runs := max(o.samples/2, 2)
	progress("11. Loading the overview %d times", runs)
	var lat []time.Duration
	var size int
	for range runs {
		t := time.Now()
		page, err := get("/portal/")
		if err != nil {
			return err
		}
		lat = append(lat, time.Since(t))
		if !strings.Contains(page, fmt.Sprintf("<strong>%d</strong> clusters", n)) {
			return fmt.Errorf("the overview does not show the fleet (signed in?):\n%.500s", page)
		}
		size = len(page)
	}
	rep.add(row{name: fmt.Sprintf("11. portal fleet overview over %d clusters and configurations (%d loads)", n, runs),
		value:  fmt.Sprintf("p50 %s, p99 %s, %.1f KiB", ms(median(lat)), ms(percentile(lat, 99)), float64(size)/1024),
		target: "< 1 s, < 300 KB"})
	return nil
}
