//! baresip: a real softphone, driven over its `ctrl_tcp` interface (netstring JSON). It
//! plays a WAV tone as its microphone and can record what it hears (`sndfile`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::audio;
use super::sip::free_ports;

/// What the phone sends and whether it records.
pub struct BaresipAudio {
    /// The tone it plays (8 kHz WAV).
    pub tone_hz: f64,
    /// How long the tone lasts; baresip's `aufile` ends the call at the end of the file.
    pub secs: u32,
    /// Record what it hears into `<dir>/rec/dump-…-dec.wav`.
    pub record: bool,
}

impl Default for BaresipAudio {
    fn default() -> Self {
        BaresipAudio {
            tone_hz: 440.0,
            secs: 30,
            record: false,
        }
    }
}

/// A baresip process, killed on drop.
pub struct Baresip {
    child: Child,
    ctrl: TcpStream,
    buf: Vec<u8>,
    pub events: Vec<Value>,
    token: u32,
    dir: PathBuf,
}

impl Drop for Baresip {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Baresip {
    /// Starts baresip in `dir` with the account `caller` (its ctrl_tcp, SIP and RTP ports
    /// on loopback). baresip is installed by the test script; a missing one fails the test.
    pub fn start(dir: &Path, caller: &str, sound: &BaresipAudio) -> Baresip {
        let sip_port = free_ports(4);
        let ctrl_port = free_ports(4);
        let rtp = free_ports(20);
        let tone = audio::tone(sound.tone_hz, 8000, 0, 8000 * sound.secs as usize, 3000.0);
        std::fs::write(dir.join("tone.wav"), audio::wav(8000, &tone)).expect("write the tone");
        let record = if sound.record {
            std::fs::create_dir_all(dir.join("rec")).expect("the recording dir");
            format!(
                "module\t\t\tsndfile.so\nsnd_path\t\t{}\n",
                dir.join("rec").display()
            )
        } else {
            String::new()
        };
        let config = format!(
            "poll_method\t\tepoll\n\
             sip_listen\t\t127.0.0.1:{sip_port}\n\
             net_interface\t\t127.0.0.1\n\
             audio_player\t\taubridge,nil\n\
             audio_alert\t\taubridge,nil\n\
             audio_source\t\taufile,{tone}\n\
             ausrc_srate\t\t8000\n\
             auplay_srate\t\t8000\n\
             ausrc_channels\t\t1\n\
             auplay_channels\t\t1\n\
             rtp_ports\t\t{rtp}-{rtp_end}\n\
             module_path\t\t/usr/lib/baresip/modules\n\
             module\t\t\tg711.so\n\
             module\t\t\taufile.so\n\
             module\t\t\taubridge.so\n\
             {record}\
             module_tmp\t\tuuid.so\n\
             module_tmp\t\taccount.so\n\
             module_app\t\tcontact.so\n\
             module_app\t\tmenu.so\n\
             module_app\t\tctrl_tcp.so\n\
             ctrl_tcp_listen\t\t127.0.0.1:{ctrl_port}\n",
            tone = dir.join("tone.wav").display(),
            rtp_end = rtp + 19,
        );
        std::fs::write(dir.join("config"), config).expect("write the config");
        std::fs::write(
            dir.join("accounts"),
            format!("<sip:{caller}@127.0.0.1:{sip_port}>;regint=0;audio_codecs=PCMU\n"),
        )
        .expect("write the accounts");
        let log = std::fs::File::create(dir.join("baresip.log")).expect("log file");
        let child = Command::new("baresip")
            .arg("-f")
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().expect("clone")))
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start baresip ({e}): run ./scripts/test.sh, which installs it")
            });
        let deadline = Instant::now() + Duration::from_secs(10);
        let ctrl = loop {
            match TcpStream::connect(("127.0.0.1", ctrl_port)) {
                Ok(s) => break s,
                Err(e) if Instant::now() > deadline => panic!(
                    "baresip's ctrl_tcp never listened: {e}\n{}",
                    std::fs::read_to_string(dir.join("baresip.log")).unwrap_or_default()
                ),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        };
        ctrl.set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        Baresip {
            child,
            ctrl,
            buf: Vec::new(),
            events: Vec::new(),
            token: 0,
            dir: dir.to_path_buf(),
        }
    }

    pub fn command(&mut self, cmd: &str, params: &str) {
        self.token += 1;
        let body =
            json!({"command": cmd, "params": params, "token": self.token.to_string()}).to_string();
        let framed = format!("{}:{body},", body.len());
        self.ctrl
            .write_all(framed.as_bytes())
            .expect("send to baresip");
    }

    /// Reads what baresip sent for `d`.
    pub fn pump(&mut self, d: Duration) {
        let end = Instant::now() + d;
        let mut chunk = [0u8; 8192];
        while Instant::now() < end {
            match self.ctrl.read(&mut chunk) {
                Ok(0) => return,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(_) => {}
            }
            while let Some(colon) = self.buf.iter().position(|&b| b == b':') {
                let Ok(len) = std::str::from_utf8(&self.buf[..colon])
                    .unwrap_or("x")
                    .parse::<usize>()
                else {
                    self.buf.clear();
                    break;
                };
                if self.buf.len() < colon + 1 + len + 1 {
                    break;
                }
                let msg = self.buf[colon + 1..colon + 1 + len].to_vec();
                self.buf.drain(..colon + 1 + len + 1);
                if let Ok(v) = serde_json::from_slice::<Value>(&msg) {
                    println!("[baresip] {v}");
                    self.events.push(v);
                }
            }
        }
    }

    pub fn wait_event(&mut self, kind: &str, timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        loop {
            if self.events.iter().any(|e| e["type"] == kind) {
                return true;
            }
            if Instant::now() > end {
                return false;
            }
            self.pump(Duration::from_millis(100));
        }
    }

    /// baresip's log, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("baresip.log")).unwrap_or_default()
    }

    /// What a phone started in `dir` heard (its `-dec.wav` recording, 8 kHz), once the
    /// call is closed.
    pub fn recording(dir: &Path) -> Vec<i16> {
        let Ok(dir) = std::fs::read_dir(dir.join("rec")) else {
            return Vec::new();
        };
        for e in dir.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if name.ends_with("-dec.wav")
                && let Ok(bytes) = std::fs::read(e.path())
                && let Some((_, pcm)) = audio::read_wav(&bytes)
            {
                return pcm;
            }
        }
        Vec::new()
    }
}
