/**
 * Headless Chromium for console tests: Debian's `chromium` package driven by playwright-core (never a
 * browser download). One browser per test file, closed when the file's tests end.
 */
import tap from 'tap'
import { chromium, type Browser } from 'playwright-core'

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic',
  '--no-first-run', '--disable-component-update', '--disable-sync']

let browser: Promise<Browser> | null = null

export function sharedBrowser (): Promise<Browser> {
  if (browser === null) {
    browser = chromium.launch({ executablePath: CHROMIUM, args: ARGS })
    tap.teardown(async () => { await (await browser)?.close(); browser = null })
  }
  return browser
}
