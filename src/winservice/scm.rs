//! The Service Control Manager calls (Windows only), through the
//! `windows-service` crate: register, remove, and the service's own main
//! function, which runs `service::run` until the SCM says stop.
//!
//! Not runnable under Wine (no real SCM): what can be tested of it is
//! decided in the parent module and tested there.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use windows_service::service::{
    ServiceAccess, ServiceAction, ServiceActionType, ServiceControl, ServiceControlAccept,
    ServiceErrorControl, ServiceExitCode, ServiceFailureActions, ServiceFailureResetPeriod,
    ServiceInfo, ServiceStartType, ServiceState, ServiceStatus, ServiceType,
};
use windows_service::service_control_handler::{self, ServiceControlHandlerResult};
use windows_service::service_manager::{ServiceManager, ServiceManagerAccess};
use windows_service::{define_windows_service, service_dispatcher};

use super::{log_settings, stop_wait, DefaultPaths, InstallPlan, SetupError, SERVICE_NAME};
use crate::config::Config;

/// `ERROR_SERVICE_EXISTS`, `ERROR_SERVICE_DOES_NOT_EXIST`.
const SERVICE_EXISTS: i32 = 1073;
const SERVICE_DOES_NOT_EXIST: i32 = 1060;

fn manager_error(e: windows_service::Error) -> SetupError {
    match &e {
        windows_service::Error::Winapi(io) if io.raw_os_error() == Some(SERVICE_EXISTS) => {
            SetupError::AlreadyInstalled
        }
        windows_service::Error::Winapi(io) if io.raw_os_error() == Some(SERVICE_DOES_NOT_EXIST) => {
            SetupError::NotInstalled
        }
        _ => SetupError::Manager(e.to_string()),
    }
}

/// Registers the service (automatic start, restart after a crash).
pub fn install(plan: &InstallPlan) -> Result<(), SetupError> {
    let manager = ServiceManager::local_computer(
        None::<&str>,
        ServiceManagerAccess::CONNECT | ServiceManagerAccess::CREATE_SERVICE,
    )
    .map_err(manager_error)?;
    let info = ServiceInfo {
        name: OsString::from(plan.name),
        display_name: OsString::from(plan.display_name),
        service_type: ServiceType::OWN_PROCESS,
        start_type: ServiceStartType::AutoStart,
        error_control: ServiceErrorControl::Normal,
        executable_path: plan.executable.clone(),
        launch_arguments: plan.arguments.clone(),
        dependencies: vec![],
        account_name: None, // LocalSystem; README: how to use another account
        account_password: None,
    };
    let service = manager
        .create_service(&info, ServiceAccess::CHANGE_CONFIG)
        .map_err(manager_error)?;
    service
        .set_description(plan.description)
        .map_err(manager_error)?;
    let restart = ServiceAction {
        action_type: ServiceActionType::Restart,
        delay: plan.restart_after,
    };
    service
        .update_failure_actions(ServiceFailureActions {
            reset_period: ServiceFailureResetPeriod::After(Duration::from_secs(24 * 3600)),
            reboot_msg: None,
            command: None,
            actions: Some(vec![restart.clone(), restart.clone(), restart]),
        })
        .map_err(manager_error)?;
    Ok(())
}

/// Stops the service (waiting up to `wait` for its graceful stop) and
/// removes it. Its files (configuration, ledger, logs) stay.
pub fn remove(wait: Duration) -> Result<(), SetupError> {
    let manager = ServiceManager::local_computer(None::<&str>, ServiceManagerAccess::CONNECT)
        .map_err(manager_error)?;
    let service = manager
        .open_service(
            SERVICE_NAME,
            ServiceAccess::QUERY_STATUS | ServiceAccess::STOP | ServiceAccess::DELETE,
        )
        .map_err(manager_error)?;
    if service.query_status().map_err(manager_error)?.current_state != ServiceState::Stopped {
        service.stop().map_err(manager_error)?;
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline
            && service.query_status().map_err(manager_error)?.current_state != ServiceState::Stopped
        {
            std::thread::sleep(Duration::from_millis(500));
        }
    }
    service.delete().map_err(manager_error)
}

/// The configuration path of this service process, set before the
/// dispatcher starts (the SCM's `service_main` takes no context).
static CONFIG_PATH: OnceLock<PathBuf> = OnceLock::new();
/// The exit code `service_main` ends with, read back by [`run`].
static EXIT_CODE: OnceLock<i32> = OnceLock::new();

define_windows_service!(ffi_service_main, service_main);

/// Hands this process to the SCM (blocks until the service stops) and
/// returns the service's exit code (`exit.rs` values).
pub fn run(config: &Path) -> Result<i32, SetupError> {
    let _ = CONFIG_PATH.set(config.to_path_buf());
    service_dispatcher::start(SERVICE_NAME, ffi_service_main).map_err(|e| {
        SetupError::Manager(format!(
            "{e}; `servico executar` só roda iniciado pelo Windows (use `servico instalar`, \
             ou `run` para rodar no console)"
        ))
    })?;
    Ok(EXIT_CODE.get().copied().unwrap_or(0))
}

fn service_main(_arguments: Vec<OsString>) {
    let config = CONFIG_PATH
        .get()
        .cloned()
        .unwrap_or_else(|| DefaultPaths::from_env().config);
    let code = run_service(&config);
    let _ = EXIT_CODE.set(code);
}

fn status(state: ServiceState, exit: i32, wait_hint: Duration) -> ServiceStatus {
    ServiceStatus {
        service_type: ServiceType::OWN_PROCESS,
        current_state: state,
        controls_accepted: if state == ServiceState::Running {
            ServiceControlAccept::STOP | ServiceControlAccept::SHUTDOWN
        } else {
            ServiceControlAccept::empty()
        },
        exit_code: match u32::try_from(exit) {
            Ok(0) | Err(_) => ServiceExitCode::NO_ERROR,
            Ok(code) => ServiceExitCode::ServiceSpecific(code),
        },
        checkpoint: 0,
        wait_hint,
        process_id: None,
    }
}

/// Exit codes as `exit.rs`: 3 configuration, 5 internal.
const EXIT_CONFIG: i32 = 3;
const EXIT_INTERNAL: i32 = 5;

fn run_service(config_path: &Path) -> i32 {
    // Loaded first: its zone and log keys shape the log; its error, if
    // any, is logged below once the file is open.
    let loaded = Config::load(config_path);
    let settings = log_settings(config_path, loaded.as_ref().ok());
    // No console under the SCM: the file is the only log. A `log_file` that
    // cannot be opened falls back to the default folder rather than leaving
    // the service without any log; the refusal is the first line there.
    let mut refused = None;
    let subscriber = crate::ops::logging::subscriber(&settings, std::io::sink).or_else(|e| {
        refused = Some(e.to_string());
        let mut fallback = log_settings(config_path, None);
        fallback.timezone = settings.timezone;
        crate::ops::logging::subscriber(&fallback, std::io::sink)
    });
    if let Ok(subscriber) = subscriber {
        let _ = tracing::subscriber::set_global_default(subscriber);
    }
    if let Some(reason) = refused {
        tracing::warn!("o arquivo de log configurado não pôde ser aberto ({reason}); o log segue na pasta padrão");
    }
    let stop = Arc::new(Notify::new());
    let on_control = {
        let stop = stop.clone();
        move |control| match control {
            ServiceControl::Stop | ServiceControl::Shutdown | ServiceControl::Preshutdown => {
                stop.notify_one();
                ServiceControlHandlerResult::NoError
            }
            ServiceControl::Interrogate => ServiceControlHandlerResult::NoError,
            _ => ServiceControlHandlerResult::NotImplemented,
        }
    };
    let handle = match service_control_handler::register(SERVICE_NAME, on_control) {
        Ok(h) => h,
        Err(e) => {
            tracing::error!("não foi possível falar com o gerenciador de serviços: {e}");
            return EXIT_INTERNAL;
        }
    };
    let code = match loaded {
        Err(e) => {
            tracing::error!("{e}");
            EXIT_CONFIG
        }
        Ok(config) => {
            let wait = stop_wait(&config);
            let _ = handle.set_service_status(status(ServiceState::Running, 0, Duration::ZERO));
            tracing::info!(config = %config_path.display(), "serviço iniciado");
            let shutdown = async move {
                stop.notified().await;
                let _ = handle.set_service_status(status(ServiceState::StopPending, 0, wait));
                tracing::info!("parada pedida pelo Windows: terminando os envios em andamento");
            };
            match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Err(e) => {
                    tracing::error!("não foi possível iniciar: {e}");
                    EXIT_INTERNAL
                }
                Ok(runtime) => match runtime.block_on(crate::service::run(config, shutdown)) {
                    Ok(()) => 0,
                    Err(e) => {
                        tracing::error!("{e}");
                        if e.is_configuration() {
                            EXIT_CONFIG
                        } else {
                            EXIT_INTERNAL
                        }
                    }
                },
            }
        }
    };
    let _ = handle.set_service_status(status(ServiceState::Stopped, code, Duration::ZERO));
    code
}
